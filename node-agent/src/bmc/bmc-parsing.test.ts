import assert from "node:assert/strict";
import { describe, test } from "node:test";
import { fixture } from "../test-support/fake-nvidia-smi.js";
import { parseChassisPower } from "./chassis.js";
import { ipmitoolArgs } from "./ipmitool-args.js";
import { parseSelElist, parseSelInfoEntries, selTime } from "./sel.js";
import { entityType, parseSensorTable } from "./sensor-table.js";
import { sensorState, textSeverity } from "./severity.js";
import { BmcConfig } from "@enclave/contracts";

/** Captured from OpenIPMI's ipmi_sim with ipmitool 1.8.19 (fixtures/README.md). */
const ipmi = (name: string) => fixture("ipmitool", `${name}.txt`);

describe("ipmitool sensor tables", () => {
  test("sdr elist, 5 columns: readings, units, entities, the absent fan, discrete text", () => {
    const s = parseSensorTable(ipmi("02-sdr-elist"));
    assert.equal(s.length, 11);
    assert.deepEqual(s[0], { name: "Inlet Temp", id: "01h", kind: "temperature", entity: "39.1", value: 24, unit: "degrees C", status: "ok", state: "nominal", text: "" });
    assert.deepEqual(
      s.map((x) => [x.name, x.kind, x.value, x.state]),
      [
        ["Inlet Temp", "temperature", 24, "nominal"],
        ["Exhaust Temp", "temperature", 38, "nominal"],
        ["CPU Temp", "temperature", 52, "nominal"],
        ["FAN1", "fan", 6000, "nominal"],
        ["FAN2", "fan", 5800, "nominal"],
        ["Pwr Consumption", "power", 320, "nominal"],
        ["12V", "voltage", 12, "nominal"],
        ["PSU1 Status", "discrete", null, "nominal"],
        ["PSU2 Status", "discrete", null, "nominal"],
        ["DIMM ECC", "discrete", null, "nominal"],
        ["FAN3", "discrete", null, "unavailable"],
      ],
    );
    assert.equal(s[7]?.text, "Presence detected");
    assert.equal(s[9]?.text, "", "no state bit set prints nothing");
    assert.equal(s[7]?.entity, "10.1");
  });

  test("after the failure scenario: thresholds crossed, and a PSU that fails while its status column says ok", () => {
    const s = new Map(parseSensorTable(ipmi("11-sdr-elist-after")).map((x) => [x.name, x]));
    assert.equal(s.get("CPU Temp")?.state, "critical");
    assert.equal(s.get("CPU Temp")?.status, "ucr");
    assert.equal(s.get("FAN2")?.state, "critical");
    assert.equal(s.get("FAN2")?.value, 400);
    assert.equal(s.get("12V")?.state, "warning");
    assert.equal(s.get("12V")?.value, 11.1);
    assert.equal(s.get("PSU2 Status")?.status, "ok");
    assert.equal(s.get("PSU2 Status")?.state, "critical");
    assert.equal(s.get("PSU2 Status")?.text, "Failure detected");
    assert.equal(s.get("DIMM ECC")?.state, "warning");
    assert.equal(s.get("Inlet Temp")?.state, "nominal");
  });

  test("sdr list, 3 columns, and sensor, 10 columns", () => {
    const list = new Map(parseSensorTable(ipmi("33-sdr-list-after")).map((x) => [x.name, x]));
    assert.equal(list.size, 11);
    assert.equal(list.get("CPU Temp")?.state, "critical");
    assert.equal(list.get("CPU Temp")?.value, 91);
    assert.equal(list.get("FAN3")?.state, "unavailable");
    assert.equal(list.get("PSU2 Status")?.kind, "discrete");
    const table = new Map(parseSensorTable(ipmi("12-sensor-after")).map((x) => [x.name, x]));
    assert.equal(table.size, 11);
    assert.equal(table.get("CPU Temp")?.state, "critical");
    assert.equal(table.get("12V")?.value, 11.1);
    assert.equal(table.get("12V")?.state, "warning");
    assert.equal(table.get("FAN3")?.state, "unavailable");
    assert.equal(table.get("PSU2 Status")?.kind, "discrete");
  });

  test("error output, command echo and noise lines are no sensors", () => {
    assert.deepEqual(parseSensorTable(ipmi("20-errors")), []);
    assert.deepEqual(parseSensorTable("Get HPM.x Capabilities request failed, compcode = d4\n"), []);
    assert.deepEqual(parseSensorTable("a | b | c | d | e\n"), [], "5 columns but no sensor number");
  });

  test("entity ids name the sensor type", () => {
    assert.equal(entityType("10.2"), "Power Supply");
    assert.equal(entityType("32.1"), "Memory");
    assert.equal(entityType("99.1"), "Other");
    assert.equal(entityType(""), "Other");
  });
});

describe("severity", () => {
  test("state text and status", () => {
    assert.equal(sensorState("ok", "Presence detected"), "nominal");
    assert.equal(sensorState("ok", "Presence detected, Failure detected"), "critical");
    assert.equal(sensorState("ok", "Power Supply AC lost"), "critical");
    assert.equal(sensorState("ok", "Correctable ECC"), "warning");
    assert.equal(sensorState("ok", "Uncorrectable ECC"), "critical");
    assert.equal(sensorState("lnr", ""), "critical");
    assert.equal(sensorState("unc", ""), "warning");
    assert.equal(sensorState("ns", "Disabled"), "unavailable");
    assert.equal(textSeverity("Upper Non-critical going high"), "warning");
    assert.equal(textSeverity("Lower Critical going low"), "critical");
    assert.equal(textSeverity("Presence detected"), "info");
  });
});

describe("ipmitool sel elist", () => {
  test("dated records, hexadecimal ids, double spaces, severities", () => {
    const e = parseSelElist(ipmi("13-sel-elist-after"));
    assert.equal(e.length, 10);
    assert.deepEqual(e[1], {
      id: 2,
      time: Date.UTC(2026, 10, 22, 6, 43, 44),
      sensor: "Temperature CPU Temp",
      event: "Upper Critical going high (Reading 91 > Threshold 90 degrees C)",
      asserted: true,
      severity: "critical",
    });
    assert.equal(e[9]?.id, 10, "`a` is record 10");
    assert.equal(e[2]?.event, "Lower Non-critical going low (Reading 400 < Threshold 1000 RPM)");
    assert.equal(e[5]?.asserted, false);
    assert.equal(e[5]?.severity, "info", "a deasserted event reports a cleared condition");
    assert.deepEqual(
      e.map((x) => x.severity),
      ["warning", "critical", "warning", "critical", "warning", "info", "critical", "warning", "critical", "warning"],
    );
  });

  test("Pre-Init records have no time; an empty log has no records; the last N are kept", () => {
    const e = parseSelElist(ipmi("31-sel-elist-pre-init"));
    assert.equal(e.length, 5);
    assert.ok(e.every((x) => x.time === null));
    assert.equal(e[4]?.event, "Uncorrectable ECC");
    assert.equal(e[4]?.severity, "critical");
    assert.deepEqual(parseSelElist(""), []);
    assert.deepEqual(parseSelElist(ipmi("13-sel-elist-after"), 3).map((x) => x.id), [8, 9, 10]);
  });

  test("dates in both year forms, UTC", () => {
    assert.equal(selTime("01/02/2019", "10:12:11 UTC"), Date.UTC(2019, 0, 2, 10, 12, 11));
    assert.equal(selTime("Pre-Init", "0000000506"), null);
    assert.equal(selTime("13/45/26", "99:99:99"), null);
  });

  test("sel info entries and chassis power", () => {
    assert.equal(parseSelInfoEntries(ipmi("32-sel-info")), 5);
    assert.equal(parseSelInfoEntries("garbage"), null);
    assert.equal(parseChassisPower(ipmi("04-chassis-status")), true);
    assert.equal(parseChassisPower("System Power         : off\n"), false);
    assert.equal(parseChassisPower(""), null);
  });
});

describe("ipmitool command line", () => {
  test("lanplus: host, port, user, cipher suite, retries, privilege; the password only in the environment", () => {
    const c = BmcConfig.parse({ interface: "lanplus", host: "10.0.0.5", username: "monitor", password: { file: "/etc/enclave/bmc-password" }, cipherSuite: 17, retries: 2 });
    assert.deepEqual(ipmitoolArgs(c, ["sdr", "elist"]), ["-I", "lanplus", "-H", "10.0.0.5", "-p", "623", "-U", "monitor", "-E", "-L", "USER", "-C", "17", "-N", "1", "-R", "2", "sdr", "elist"]);
  });

  test("open: the local interface", () => {
    assert.deepEqual(ipmitoolArgs(BmcConfig.parse({ interface: "open" }), ["chassis", "status"]), ["-I", "open", "chassis", "status"]);
  });
});

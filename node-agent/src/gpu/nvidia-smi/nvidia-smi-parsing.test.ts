import assert from "node:assert/strict";
import { describe, test } from "node:test";
import { fixture } from "../../test-support/fake-nvidia-smi.js";
import { parseDetailXml } from "./detail-xml.js";
import { parseQueryCsv, rejectedField } from "./query-csv.js";
import { initialPlan, planFields, rejectField, rowToReading } from "./query-fields.js";
import { clockEventReasonsFromMask, isNoValue, pciKey, toBool, toCount, toNumber, valueProblem } from "./values.js";

const csv = (name: string) => fixture("nvidia-smi", "query-gpu", name);
const xml = (name: string) => fixture("nvidia-smi", "xml", name);

function readings(text: string) {
  const r = parseQueryCsv(text);
  assert.ok(r.ok, r.ok ? "" : r.error);
  return r.table.rows.map((row) => rowToReading(row));
}

describe("nvidia-smi values", () => {
  test("every placeholder real drivers print is no value", () => {
    for (const v of ["[N/A]", "N/A", "[Not Supported]", "[Requested functionality has been deprecated]", "[Unknown Error]", "[GPU requires reset]", "[Insufficient Permissions]", "", "  "]) {
      assert.equal(isNoValue(v), true, v);
      assert.equal(toNumber(v), null, v);
      assert.equal(toBool(v), null, v);
    }
  });

  test("numbers carry their units", () => {
    const cases: [string, number | null][] = [
      ["45 C", 45],
      ["-2 C", -2],
      ["27.22 W", 27.22],
      ["81559 MiB", 81559],
      ["16x", 16],
      ["33.4 %", 33.4],
      ["2560 bank(s)", 2560],
      ["4000 KB/s", 4000],
      ["0 us", 0],
      ["0x233010DE", null],
      ["G520.0200.00.05", null],
      ["12abc34", null],
    ];
    for (const [raw, want] of cases) assert.equal(toNumber(raw), want, raw);
    assert.equal(toCount("3"), 3);
    assert.equal(toCount("-1"), null);
    assert.equal(toCount("2.5"), null);
  });

  test("yes/no, active/not active, enabled/disabled", () => {
    assert.equal(toBool("Yes"), true);
    assert.equal(toBool("No"), false);
    assert.equal(toBool("Active"), true);
    assert.equal(toBool("Not Active"), false);
    assert.equal(toBool("Enabled"), true);
    assert.equal(toBool("Disabled"), false);
    assert.equal(toBool("maybe"), null);
  });

  test("only GPU-level trouble is a problem, not a missing number", () => {
    assert.equal(valueProblem("[GPU requires reset]"), "requires-reset");
    assert.equal(valueProblem("[GPU is lost]"), "lost");
    assert.equal(valueProblem("[Unknown Error]"), undefined);
    assert.equal(valueProblem("[N/A]"), undefined);
  });

  test("clock event reason bitmask", () => {
    assert.deepEqual(clockEventReasonsFromMask("0x0000000000000001"), ["gpu_idle"]);
    assert.deepEqual(clockEventReasonsFromMask("0x0000000000000000"), []);
    assert.deepEqual(clockEventReasonsFromMask("0x00000000000000E4"), ["sw_power_cap", "sw_thermal_slowdown", "hw_thermal_slowdown", "hw_power_brake_slowdown"]);
    assert.equal(clockEventReasonsFromMask("[N/A]"), null);
    assert.equal(clockEventReasonsFromMask("0xZZ"), null);
  });

  test("PCI addresses from nvidia-smi and from the kernel compare equal", () => {
    assert.equal(pciKey("00000000:9B:00.0"), pciKey("0000:9b:00"));
    assert.equal(pciKey("PCI:0000:9b:00"), "0:155:0");
    assert.equal(pciKey("0000:04:00.0"), "0:4:0");
    assert.equal(pciKey("garbage"), null);
  });
});

describe("nvidia-smi --query-gpu CSV (real captures)", () => {
  test("H100 80GB HBM3, driver 590.48.01, idle and under load", () => {
    const [idle] = readings(csv("h100-80gb-hbm3_590.48.01_idle.csv"));
    assert.ok(idle);
    assert.equal(idle.uuid, "GPU-00000000-0000-0000-0000-000000000000");
    assert.equal(idle.index, 0);
    assert.equal(idle.name, "NVIDIA H100 80GB HBM3");
    assert.equal(idle.pciBusId, "00000000:00:09.0");
    assert.equal(idle.memoryTotalMiB, 81559);
    assert.equal(idle.memoryUsedMiB, 0);
    assert.equal(idle.memoryFreeMiB, 81081);
    assert.equal(idle.temperatureC, 41);
    assert.equal(idle.memoryTemperatureC, 48);
    assert.equal(idle.powerW, 69.85);
    assert.equal(idle.powerLimitW, 700);
    assert.equal(idle.fanSpeedPct, null, "[N/A] on a passively cooled card");
    assert.equal(idle.performanceState, "P0");
    assert.deepEqual(idle.clockEventReasons, ["gpu_idle"]);
    assert.equal(idle.eccMode, "enabled");
    assert.equal(idle.eccCorrectedVolatile, 0);
    assert.equal(idle.eccUncorrectedVolatile, 0);
    assert.equal(idle.retiredSingleBit, null, "Hopper remaps rows; page retirement is [N/A]");
    assert.equal(idle.remappedCorrectable, 0);
    assert.equal(idle.remappedPending, false);
    assert.equal(idle.remappedFailure, false);
    assert.equal(idle.pcieLinkGen, 5);
    assert.equal(idle.pcieLinkWidth, 16);
    assert.equal(idle.migMode, "disabled");
    assert.equal(idle.smClockMHz, 345);
    assert.equal(idle.memoryClockMHz, 2619);
    assert.deepEqual(idle.problems, []);

    const [load] = readings(csv("h100-80gb-hbm3_590.48.01_load.csv"));
    assert.equal(load?.utilizationPct, 100);
    assert.equal(load?.memoryUtilizationPct, 11);
    assert.equal(load?.memoryUsedMiB, 19818);
    assert.equal(load?.powerW, 631.95);
    assert.equal(load?.temperatureC, 59);
    assert.deepEqual(load?.clockEventReasons, []);
  });

  test("GeForce RTX 2080 SUPER, driver 595.71.05: no ECC, a fan, bare N/A, power capped", () => {
    const [g] = readings(csv("rtx-2080-super_595.71.05_idle.csv"));
    assert.equal(g?.name, "NVIDIA GeForce RTX 2080 SUPER");
    assert.equal(g?.fanSpeedPct, 38);
    assert.equal(g?.eccMode, null);
    assert.equal(g?.eccUncorrectedVolatile, null);
    assert.equal(g?.remappedFailure, null);
    assert.equal(g?.memoryTemperatureC, null, "printed as bare N/A");
    assert.equal(g?.temperatureC, 40);
    assert.deepEqual(g?.clockEventReasons, ["sw_power_cap"]);
    assert.equal(g?.migMode, null);
  });

  test("an old driver's nounits output with [Unknown Error] and a blank line", () => {
    const r = parseQueryCsv(csv("geforce-rtx-2080-ti_442.19_nounits.csv"));
    assert.ok(r.ok);
    assert.equal(r.table.rows.length, 1);
    assert.equal(r.table.rows[0]?.["power.default_limit"], "[Unknown Error]");
    assert.equal(r.table.rows[0]?.["power.draw"], "228.82");
    assert.equal(r.table.rows[0]?.["temperature.gpu"], "56");
  });

  test("columns are found by name, in whatever order the driver prints them", () => {
    const text = csv("h100-80gb-hbm3_590.48.01_load.csv");
    const [header = "", row = ""] = text.trim().split("\n");
    const h = header.split(", ");
    const c = row.split(", ");
    const order = h.map((_, i) => i).reverse();
    const reversed = `${order.map((i) => h[i]).join(", ")}\n${order.map((i) => c[i]).join(", ")}\n`;
    assert.deepEqual(readings(reversed), readings(text));
  });

  test("lines that are no row of the table are kept aside, not read as a GPU", () => {
    const text = csv("h100-80gb-hbm3_590.48.01_idle.csv") + "Unable to determine the device handle for GPU0000:1B:00.0: Unknown Error\n";
    const r = parseQueryCsv(text);
    assert.ok(r.ok);
    assert.equal(r.table.rows.length, 1);
    assert.deepEqual(r.table.strayLines, ["Unable to determine the device handle for GPU0000:1B:00.0: Unknown Error"]);
  });

  test("garbage and nothing are errors, not GPUs", () => {
    for (const text of ["", "\n\n", "\u001b[1;31m*** segfault\n\0,,,, [[[\n", "NVIDIA-SMI has failed because it couldn't communicate with the NVIDIA driver.\n"]) {
      const r = parseQueryCsv(text);
      assert.equal(r.ok, false, JSON.stringify(text));
    }
  });

  test("a row without a UUID is no GPU", () => {
    assert.equal(rowToReading({ index: "0", uuid: "[N/A]" }), undefined);
  });

  test("the driver's rejection of a field names it", () => {
    assert.equal(rejectedField('Field "clocks_event_reasons.active" is not a valid field to query.\n\n'), "clocks_event_reasons.active");
    assert.equal(rejectedField("something else"), undefined);
  });
});

describe("query field plan", () => {
  test("asks for every concept by its newest name", () => {
    const fields = planFields(initialPlan());
    assert.ok(fields.includes("clocks_event_reasons.active"));
    assert.ok(fields.includes("remapped_rows.failure"));
    assert.ok(!fields.includes("clocks_throttle_reasons.active"));
  });

  test("a rejected name falls back to the older one, then to nothing", () => {
    let plan = rejectField(initialPlan(), "clocks_event_reasons.active");
    assert.ok(plan);
    assert.ok(planFields(plan).includes("clocks_throttle_reasons.active"));
    plan = rejectField(plan, "clocks_throttle_reasons.active");
    assert.ok(plan);
    assert.ok(!planFields(plan).some((f) => f.includes("reasons")));
    assert.equal(planFields(plan).length, planFields(initialPlan()).length - 1);
  });

  test("a name we never asked for, or losing the UUID, leaves no usable plan", () => {
    assert.equal(rejectField(initialPlan(), "no.such.field"), undefined);
    assert.equal(rejectField(initialPlan(), "uuid"), undefined);
  });
});

describe("nvidia-smi -q -x (real captures)", () => {
  test("Tesla P100, driver 375.66: throttle reasons, power_readings, single/double-bit ECC, absolute thresholds", () => {
    const r = parseDetailXml(xml("tesla-p100-pcie-12gb_375.66.xml"));
    assert.ok(r.ok);
    assert.equal(r.log.driverVersion, "375.66");
    assert.equal(r.log.attachedGpus, 2);
    assert.equal(r.log.gpus.length, 2);
    const [a, b] = r.log.gpus;
    assert.equal(a?.uuid, "GPU-28604e81-21ec-cc48-6759-bf2648b22e16");
    assert.equal(a?.index, 0);
    assert.equal(b?.index, 1);
    assert.equal(a?.pciBusId, "0000:04:00.0");
    assert.equal(a?.memoryTotalMiB, 11567);
    assert.equal(a?.utilizationPct, 33.4);
    assert.equal(a?.temperatureC, 31);
    assert.equal(a?.temperatureSlowdownC, 88);
    assert.equal(a?.temperatureShutdownC, 80);
    assert.equal(a?.powerW, 24.84);
    assert.equal(a?.powerLimitW, 250);
    assert.deepEqual(a?.clockEventReasons, ["gpu_idle"]);
    assert.equal(a?.eccMode, "enabled");
    assert.equal(a?.eccCorrectedVolatile, 0);
    assert.equal(a?.eccUncorrectedAggregate, 0);
    assert.equal(a?.retiredSingleBit, 0);
    assert.equal(a?.retiredDoubleBit, 0);
    assert.equal(a?.retiredPending, false);
    assert.equal(a?.remappedFailure, null, "Pascal has no row remapper");
    assert.equal(a?.pcieLinkGen, 3);
    assert.equal(a?.pcieLinkWidth, 16);
    assert.equal(a?.migMode, null);
  });

  test("A100 SXM4 with MIG, driver 535.54.03: clocks_event_reasons, SRAM/DRAM ECC, MIG devices, 4 attached but 1 listed", () => {
    const r = parseDetailXml(xml("a100-sxm4-80gb-mig_535.54.03.xml"));
    assert.ok(r.ok);
    assert.equal(r.log.attachedGpus, 4);
    assert.equal(r.log.gpus.length, 1);
    const g = r.log.gpus[0];
    assert.equal(g?.name, "NVIDIA A100-SXM4-80GB");
    assert.equal(g?.utilizationPct, null, "N/A under MIG");
    assert.equal(g?.temperatureC, 27);
    assert.equal(g?.memoryTemperatureC, 44);
    assert.equal(g?.temperatureSlowdownC, 89);
    assert.equal(g?.temperatureShutdownC, 92);
    assert.equal(g?.powerW, 67.03);
    assert.equal(g?.powerLimitW, 500);
    assert.deepEqual(g?.clockEventReasons, []);
    assert.equal(g?.eccCorrectedVolatile, 0);
    assert.equal(g?.eccUncorrectedVolatile, 0);
    assert.equal(g?.remappedPending, null, "<remapped_rows>N/A</remapped_rows> under MIG");
    assert.equal(g?.migMode, "enabled");
    assert.equal(g?.migDevices?.length, 4);
    assert.deepEqual(g?.migDevices?.[1], { index: 1, gpuInstanceId: 4, computeInstanceId: 0, memoryTotalMiB: 19968, memoryUsedMiB: 12 });
  });

  test("RTX PRO 6000 Blackwell, driver 590.44.01: tab indentation, instant/average power, T.Limit thresholds, row remapper", () => {
    const r = parseDetailXml(xml("rtx-pro-6000-blackwell-maxq_590.44.01.xml"));
    assert.ok(r.ok);
    const g = r.log.gpus[0];
    assert.equal(g?.powerW, 3.99, "instant_power_draw when there is no power_draw");
    assert.equal(g?.powerLimitW, 300);
    assert.equal(g?.temperatureC, 24);
    // 24 °C now, 68 °C below the maximum operating temperature; slowdown at T.Limit -2, shutdown at -5.
    assert.equal(g?.temperatureSlowdownC, 94);
    assert.equal(g?.temperatureShutdownC, 97);
    assert.equal(g?.eccMode, "disabled");
    assert.equal(g?.eccCorrectedVolatile, null);
    assert.equal(g?.remappedCorrectable, 0);
    assert.equal(g?.remappedFailure, false);
    assert.equal(g?.fanSpeedPct, 30);
    assert.equal(g?.performanceState, "P8");
    assert.equal(g?.pcieLinkGen, 1);
    assert.equal(g?.migMode, null);
    assert.deepEqual(g?.migDevices, null, "`None` is no list");
  });

  test("garbage, truncated and foreign XML are errors", () => {
    const full = xml("a100-sxm4-80gb-mig_535.54.03.xml");
    for (const text of ["", "garbage <<< not xml", "<html><body>no</body></html>"]) {
      assert.equal(parseDetailXml(text).ok, false, text);
    }
    const torn = parseDetailXml(full.slice(0, full.length / 2));
    assert.ok(!torn.ok || torn.log.gpus.every((g) => typeof g.uuid === "string"), "a torn file never yields a GPU without a UUID");
  });
});

import type { BmcSensor, BmcSensorKind } from "@enclave/contracts";
import { sensorState } from "./severity.js";

/** Bound on sensors taken from one answer (a real BMC has tens to a few hundred). */
const MAX_SENSORS = 256;

/**
 * ipmitool's sensor tables, each line split on `|`:
 * - `sdr elist`: name | 03h | status | entity | reading  (5 columns)
 * - `sdr list`:  name | reading | status                  (3 columns)
 * - `sensor`:    name | value | unit | status | lnr | lcr | lnc | unc | ucr | unr  (10 columns)
 * The reading is a number with unit words (`24 degrees C`, `11.10 Volts`), discrete state
 * text (`Presence detected, Failure detected`), empty, or `Disabled`/`No Reading`.
 */
export function parseSensorTable(text: string): BmcSensor[] {
  const out: BmcSensor[] = [];
  for (const line of text.split(/\r?\n/)) {
    if (out.length >= MAX_SENSORS) break;
    const cols = line.split("|").map((c) => c.trim());
    const s = cols.length === 5 ? fromElist(cols) : cols.length === 3 ? fromList(cols) : cols.length === 10 ? fromSensor(cols) : undefined;
    if (s) out.push(s);
  }
  return out;
}

function fromElist([name = "", id = "", status = "", entity = "", reading = ""]: string[]): BmcSensor | undefined {
  if (!name || !/^[0-9a-fA-F]{1,2}h$/.test(id)) return undefined;
  return sensor(name, id, status, reading, entity);
}

function fromList([name = "", reading = "", status = ""]: string[]): BmcSensor | undefined {
  if (!name || !/^[a-z]{2,3}$/.test(status)) return undefined;
  // `sdr list` prints discrete readings as raw `0x01`: no state text to judge by.
  return sensor(name, "", status, /^0x[0-9a-f]+$/i.test(reading) ? "" : reading, "");
}

function fromSensor([name = "", value = "", unit = "", status = ""]: string[]): BmcSensor | undefined {
  if (!name) return undefined;
  if (unit === "discrete") {
    // The status column holds the state bits (`0x0200`); the names of the bits need the SDR, which this table lacks.
    return { ...base(name, "", "", ""), kind: "discrete", status: "ok", state: "nominal" };
  }
  const reading = value === "na" || value === "" ? "" : `${value} ${unit}`;
  return sensor(name, "", status === "na" && reading === "" ? "ns" : status, reading, "");
}

function sensor(name: string, id: string, status: string, reading: string, entity: string): BmcSensor {
  const m = /^(-?\d+(?:\.\d+)?)\s+(.+)$/.exec(reading);
  const st = status.slice(0, 8) || "ns";
  if (m?.[1] && m[2]) {
    const unit = m[2].slice(0, 32);
    return { ...base(name, id, entity, ""), kind: kindOf(unit), value: Number(m[1]), unit, status: st, state: sensorState(st, "") };
  }
  const textValue = reading.slice(0, 200);
  const unavailable = /^(?:disabled|no reading|na)$/i.test(textValue);
  return {
    ...base(name, id, entity, unavailable ? "" : textValue),
    kind: "discrete",
    status: st,
    state: sensorState(unavailable ? "ns" : st, textValue),
  };
}

function base(name: string, id: string, entity: string, text: string): BmcSensor {
  return { name: name.slice(0, 64), id: id.slice(0, 8), kind: "other", entity: entity.slice(0, 16), value: null, unit: null, status: "ok", state: "nominal", text };
}

function kindOf(unit: string): BmcSensorKind {
  const u = unit.toLowerCase();
  if (u.startsWith("degrees")) return "temperature";
  if (u === "rpm") return "fan";
  if (u === "volts") return "voltage";
  if (u === "watts") return "power";
  if (u === "amps") return "current";
  return "other";
}

/**
 * The `type` label of `ipmi_sensor_value`: ipmitool's elist has no sensor type, so it is
 * named from the SDR entity (IPMI 2.0 table 43-13) the sensor belongs to.
 */
export function entityType(entity: string): string {
  const id = Number(entity.split(".")[0]);
  return ENTITY_TYPES.get(id) ?? "Other";
}

const ENTITY_TYPES = new Map<number, string>([
  [3, "Processor"],
  [4, "Drive Slot"],
  [7, "System Board"],
  [8, "Memory"],
  [10, "Power Supply"],
  [19, "Power Unit"],
  [20, "Power Supply"],
  [26, "Drive Slot"],
  [29, "Fan"],
  [30, "Cooling Device"],
  [32, "Memory"],
  [39, "Temperature"],
  [40, "Battery"],
]);

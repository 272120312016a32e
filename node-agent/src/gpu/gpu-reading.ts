import type { GpuTelemetry, Health, MigDevice, XidEvent } from "@enclave/contracts";
import { pciKey, type GpuValueProblem } from "./nvidia-smi/values.js";

/**
 * One GPU as a tool read it, before health is judged. Flat and all-nullable, so that two
 * reads (the fast query and the full XML) merge field by field.
 */
export interface GpuReading {
  uuid: string;
  index: number | null;
  name: string | null;
  pciBusId: string | null;
  memoryTotalMiB: number | null;
  memoryUsedMiB: number | null;
  memoryFreeMiB: number | null;
  utilizationPct: number | null;
  memoryUtilizationPct: number | null;
  temperatureC: number | null;
  memoryTemperatureC: number | null;
  temperatureSlowdownC: number | null;
  temperatureShutdownC: number | null;
  powerW: number | null;
  powerLimitW: number | null;
  fanSpeedPct: number | null;
  performanceState: string | null;
  smClockMHz: number | null;
  memoryClockMHz: number | null;
  pcieLinkGen: number | null;
  pcieLinkWidth: number | null;
  clockEventReasons: string[] | null;
  eccMode: "enabled" | "disabled" | null;
  eccCorrectedVolatile: number | null;
  eccUncorrectedVolatile: number | null;
  eccCorrectedAggregate: number | null;
  eccUncorrectedAggregate: number | null;
  retiredSingleBit: number | null;
  retiredDoubleBit: number | null;
  retiredPending: boolean | null;
  remappedCorrectable: number | null;
  remappedUncorrectable: number | null;
  remappedPending: boolean | null;
  remappedFailure: boolean | null;
  migMode: "enabled" | "disabled" | null;
  migDevices: MigDevice[] | null;
  /** Values that said the GPU itself is in trouble (`[GPU requires reset]`). */
  problems: GpuValueProblem[];
}

export function emptyReading(uuid: string): GpuReading {
  return {
    uuid,
    index: null,
    name: null,
    pciBusId: null,
    memoryTotalMiB: null,
    memoryUsedMiB: null,
    memoryFreeMiB: null,
    utilizationPct: null,
    memoryUtilizationPct: null,
    temperatureC: null,
    memoryTemperatureC: null,
    temperatureSlowdownC: null,
    temperatureShutdownC: null,
    powerW: null,
    powerLimitW: null,
    fanSpeedPct: null,
    performanceState: null,
    smClockMHz: null,
    memoryClockMHz: null,
    pcieLinkGen: null,
    pcieLinkWidth: null,
    clockEventReasons: null,
    eccMode: null,
    eccCorrectedVolatile: null,
    eccUncorrectedVolatile: null,
    eccCorrectedAggregate: null,
    eccUncorrectedAggregate: null,
    retiredSingleBit: null,
    retiredDoubleBit: null,
    retiredPending: null,
    remappedCorrectable: null,
    remappedUncorrectable: null,
    remappedPending: null,
    remappedFailure: null,
    migMode: null,
    migDevices: null,
    problems: [],
  };
}

/**
 * Each field from `primary` where it has one, else from `fallback`: the fast query is newer,
 * the XML fills in what the query cannot give or what this driver does not answer there.
 */
export function mergeReading(primary: GpuReading, fallback: GpuReading | undefined): GpuReading {
  if (!fallback) return primary;
  const out = { ...primary } as Record<string, unknown>;
  for (const [k, v] of Object.entries(fallback)) {
    if (k === "problems") continue;
    if (out[k] === null || out[k] === undefined) out[k] = v;
  }
  out.problems = [...new Set([...primary.problems, ...fallback.problems])];
  return out as unknown as GpuReading;
}

/**
 * Merges two reads, GPU by GPU (matched by UUID, else PCI bus id). GPUs only the fallback
 * saw are kept when it is as fresh as the primary (`keepUnmatched`); an older fallback only
 * fills in fields, so a GPU that has just vanished is not reported from stale data.
 */
export function mergeReadings(primary: readonly GpuReading[], fallback: readonly GpuReading[], keepUnmatched = true): GpuReading[] {
  const used = new Set<GpuReading>();
  const match = (p: GpuReading) =>
    fallback.find((f) => !used.has(f) && (f.uuid === p.uuid || (p.pciBusId !== null && f.pciBusId !== null && samePci(p.pciBusId, f.pciBusId))));
  const out = primary.map((p) => {
    const f = match(p);
    if (f) used.add(f);
    return mergeReading(p, f);
  });
  if (keepUnmatched) for (const f of fallback) if (!used.has(f)) out.push(f);
  return out;
}

function samePci(a: string, b: string): boolean {
  const k = pciKey(a);
  return k !== null && k === pciKey(b);
}

/** The wire shape: what the scheduler and the metrics see. */
export function toTelemetry(r: GpuReading, index: number, health: Health, xids: readonly XidEvent[]): GpuTelemetry {
  const pct = (v: number | null) => (v === null ? null : Math.min(100, Math.max(0, v)));
  const t: GpuTelemetry = {
    index,
    uuid: r.uuid,
    name: r.name ?? "",
    memoryTotalMiB: Math.max(0, r.memoryTotalMiB ?? 0),
    memoryUsedMiB: Math.max(0, r.memoryUsedMiB ?? 0),
    utilizationPct: pct(r.utilizationPct),
    temperatureC: r.temperatureC,
    powerW: r.powerW,
    powerLimitW: r.powerLimitW,
    eccUncorrectedVolatile: r.eccUncorrectedVolatile,
    health,
    memoryFreeMiB: nonNegative(r.memoryFreeMiB),
    memoryUtilizationPct: pct(r.memoryUtilizationPct),
    memoryTemperatureC: r.memoryTemperatureC,
    temperatureSlowdownC: r.temperatureSlowdownC,
    temperatureShutdownC: r.temperatureShutdownC,
    fanSpeedPct: nonNegative(r.fanSpeedPct),
    performanceState: r.performanceState,
    smClockMHz: nonNegative(r.smClockMHz),
    memoryClockMHz: nonNegative(r.memoryClockMHz),
    pcieLinkGen: r.pcieLinkGen,
    pcieLinkWidth: r.pcieLinkWidth,
    clockEventReasons: (r.clockEventReasons ?? []).slice(0, 16).map((x) => x.slice(0, 64)),
    ecc: {
      mode: r.eccMode,
      correctedVolatile: r.eccCorrectedVolatile,
      uncorrectedVolatile: r.eccUncorrectedVolatile,
      correctedAggregate: r.eccCorrectedAggregate,
      uncorrectedAggregate: r.eccUncorrectedAggregate,
    },
    retiredPages: { singleBit: r.retiredSingleBit, doubleBit: r.retiredDoubleBit, pending: r.retiredPending },
    remappedRows: { correctable: r.remappedCorrectable, uncorrectable: r.remappedUncorrectable, pending: r.remappedPending, failure: r.remappedFailure },
    mig: {
      mode: r.migMode,
      devices: (r.migDevices ?? []).slice(0, 64).map((d) => ({ ...d, memoryTotalMiB: nonNegative(d.memoryTotalMiB), memoryUsedMiB: nonNegative(d.memoryUsedMiB) })),
    },
    xidErrors: xids.slice(-16).map((x) => ({ code: x.code, time: x.time, message: x.message.slice(0, 300) })),
  };
  if (r.pciBusId !== null) t.pciBusId = r.pciBusId.slice(0, 32);
  return t;
}

/** A driver's negative reading of a quantity that cannot be negative is no reading. */
function nonNegative(v: number | null): number | null {
  return v === null || v < 0 ? null : v;
}

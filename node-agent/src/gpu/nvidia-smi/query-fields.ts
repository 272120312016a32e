import { emptyReading, type GpuReading } from "../gpu-reading.js";
import { clockEventReasonsFromMask, toBool, toCount, toNumber, toOnOff, toText, valueProblem, type GpuValueProblem } from "./values.js";

/**
 * What the fast read asks for: each concept with the field names drivers have used for it,
 * newest first. A driver that rejects a name gets the next one; one that knows none of them
 * simply does not report the concept.
 */
export const QUERY_CONCEPTS = {
  index: ["index"],
  uuid: ["uuid"],
  name: ["name"],
  pciBusId: ["pci.bus_id"],
  memoryTotalMiB: ["memory.total"],
  memoryUsedMiB: ["memory.used"],
  memoryFreeMiB: ["memory.free"],
  utilizationPct: ["utilization.gpu"],
  memoryUtilizationPct: ["utilization.memory"],
  temperatureC: ["temperature.gpu"],
  memoryTemperatureC: ["temperature.memory"],
  powerW: ["power.draw", "power.draw.instant"],
  powerLimitW: ["enforced.power.limit", "power.limit"],
  fanSpeedPct: ["fan.speed"],
  performanceState: ["pstate"],
  smClockMHz: ["clocks.current.sm", "clocks.sm"],
  memoryClockMHz: ["clocks.current.memory", "clocks.mem"],
  pcieLinkGen: ["pcie.link.gen.gpucurrent", "pcie.link.gen.current"],
  pcieLinkWidth: ["pcie.link.width.current"],
  clockEventReasons: ["clocks_event_reasons.active", "clocks_throttle_reasons.active"],
  eccMode: ["ecc.mode.current"],
  eccCorrectedVolatile: ["ecc.errors.corrected.volatile.total"],
  eccUncorrectedVolatile: ["ecc.errors.uncorrected.volatile.total"],
  eccCorrectedAggregate: ["ecc.errors.corrected.aggregate.total"],
  eccUncorrectedAggregate: ["ecc.errors.uncorrected.aggregate.total"],
  retiredSingleBit: ["retired_pages.single_bit_ecc.count", "retired_pages.sbe"],
  retiredDoubleBit: ["retired_pages.double_bit.count", "retired_pages.dbe"],
  retiredPending: ["retired_pages.pending"],
  remappedCorrectable: ["remapped_rows.correctable"],
  remappedUncorrectable: ["remapped_rows.uncorrectable"],
  remappedPending: ["remapped_rows.pending"],
  remappedFailure: ["remapped_rows.failure"],
  migMode: ["mig.mode.current"],
} as const satisfies Record<string, readonly string[]>;

export type QueryConcept = keyof typeof QUERY_CONCEPTS;

/** Without these a row is not a GPU we can report. */
const REQUIRED: readonly QueryConcept[] = ["uuid"];

/** Which candidate name each concept is at; past the last: this driver has none. */
export type FieldPlan = Readonly<Record<QueryConcept, number>>;

export function initialPlan(): FieldPlan {
  return Object.fromEntries(Object.keys(QUERY_CONCEPTS).map((c) => [c, 0])) as Record<QueryConcept, number>;
}

/** The `--query-gpu=` list for a plan. */
export function planFields(plan: FieldPlan): string[] {
  const out: string[] = [];
  for (const [concept, names] of Object.entries(QUERY_CONCEPTS) as [QueryConcept, readonly string[]][]) {
    const name = names[plan[concept]];
    if (name !== undefined) out.push(name);
  }
  return out;
}

/**
 * The plan after the driver rejected `field`: that concept moves to its next name. Undefined
 * when no planned field has that name (the answer is not about our query) or a required
 * concept ran out of names (this nvidia-smi cannot be used).
 */
export function rejectField(plan: FieldPlan, field: string): FieldPlan | undefined {
  for (const [concept, names] of Object.entries(QUERY_CONCEPTS) as [QueryConcept, readonly string[]][]) {
    if (names[plan[concept]] !== field) continue;
    const next = plan[concept] + 1;
    if (next >= names.length && REQUIRED.includes(concept)) return undefined;
    return { ...plan, [concept]: next };
  }
  return undefined;
}

/**
 * One CSV row (keyed by header field names) as a reading; undefined when it has no UUID.
 * Any candidate name counts, since nvidia-smi may print a field's canonical name for an
 * alias; where a row has several, the preferred (earlier) one wins, whatever the column order.
 */
export function rowToReading(row: Readonly<Record<string, string>>): GpuReading | undefined {
  const cell: Partial<Record<QueryConcept, string>> = {};
  for (const [concept, names] of Object.entries(QUERY_CONCEPTS) as [QueryConcept, readonly string[]][]) {
    const name = names.find((n) => row[n] !== undefined);
    if (name !== undefined) cell[concept] = row[name];
  }
  const problems = new Set<GpuValueProblem>();
  for (const value of Object.values(row)) {
    const p = valueProblem(value);
    if (p) problems.add(p);
  }
  const uuid = toText(cell.uuid, 100);
  if (!uuid) return undefined;
  const r = emptyReading(uuid);
  const index = toCount(cell.index);
  r.index = index;
  r.name = toText(cell.name);
  r.pciBusId = toText(cell.pciBusId, 32);
  r.memoryTotalMiB = toNumber(cell.memoryTotalMiB);
  r.memoryUsedMiB = toNumber(cell.memoryUsedMiB);
  r.memoryFreeMiB = toNumber(cell.memoryFreeMiB);
  r.utilizationPct = toNumber(cell.utilizationPct);
  r.memoryUtilizationPct = toNumber(cell.memoryUtilizationPct);
  r.temperatureC = toNumber(cell.temperatureC);
  r.memoryTemperatureC = toNumber(cell.memoryTemperatureC);
  r.powerW = toNumber(cell.powerW);
  r.powerLimitW = toNumber(cell.powerLimitW);
  r.fanSpeedPct = toNumber(cell.fanSpeedPct);
  r.performanceState = toText(cell.performanceState, 8);
  r.smClockMHz = toNumber(cell.smClockMHz);
  r.memoryClockMHz = toNumber(cell.memoryClockMHz);
  r.pcieLinkGen = toCount(cell.pcieLinkGen);
  r.pcieLinkWidth = toCount(cell.pcieLinkWidth);
  r.clockEventReasons = clockEventReasonsFromMask(cell.clockEventReasons);
  r.eccMode = toOnOff(cell.eccMode);
  r.eccCorrectedVolatile = toCount(cell.eccCorrectedVolatile);
  r.eccUncorrectedVolatile = toCount(cell.eccUncorrectedVolatile);
  r.eccCorrectedAggregate = toCount(cell.eccCorrectedAggregate);
  r.eccUncorrectedAggregate = toCount(cell.eccUncorrectedAggregate);
  r.retiredSingleBit = toCount(cell.retiredSingleBit);
  r.retiredDoubleBit = toCount(cell.retiredDoubleBit);
  r.retiredPending = toBool(cell.retiredPending);
  r.remappedCorrectable = toCount(cell.remappedCorrectable);
  r.remappedUncorrectable = toCount(cell.remappedUncorrectable);
  r.remappedPending = toBool(cell.remappedPending);
  r.remappedFailure = toBool(cell.remappedFailure);
  r.migMode = toOnOff(cell.migMode);
  r.problems = [...problems];
  return r;
}

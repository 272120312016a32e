import type { RouteEntry, RouteTable } from "@enclave/contracts";
import { compliantBackends } from "../routing/filter.js";
import { pickBackend as pick } from "../routing/pick.js";

/**
 * Entries serving `model` in an allowed region (any jurisdiction), ready, on a
 * live node: the spine's entry point, kept for callers that have no jurisdictions.
 */
export function routeCandidates(table: RouteTable, model: string, allowedRegions: readonly string[]): RouteEntry[] {
  return compliantBackends(table, { model, regions: allowedRegions, jurisdictions: undefined });
}

/** Least loaded of the candidates by power of two choices, without affinity (the spine's signature). */
export function pickBackend(
  candidates: readonly RouteEntry[],
  inflight: (backendId: string) => number,
  exclude: ReadonlySet<string>,
  random: () => number = Math.random,
): RouteEntry | undefined {
  return pick({
    candidates, exclude, inflight, admits: () => true, affinityKey: undefined,
    weights: { inflight: 1, queue: 1, kvCache: 1, affinity: 0 }, maxImbalance: 0, random,
  })?.entry;
}

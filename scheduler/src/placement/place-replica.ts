import type { Deployment, GpuTelemetry, NodeReport } from "@enclave/contracts";
import { freeGpus } from "./free-gpus.js";
import { gpuResourcesFilter } from "./filters/gpu-resources.js";
import { jurisdictionFilter } from "./filters/jurisdiction.js";
import { nodeHealthFilter } from "./filters/node-health.js";
import { regionFilter } from "./filters/region.js";
import { binpackScore } from "./scores/binpack.js";
import { spreadScore } from "./scores/spread.js";
import type { FilterPlugin, PlacementContext, PlacementResult, ScorePlugin, TakenGpus } from "./types.js";
import { unavailableReason } from "./unavailable-reason.js";

/** Cheap, decisive filters first: a node is reported under the first filter it fails. */
export const DEFAULT_FILTERS: readonly FilterPlugin[] = [regionFilter, jurisdictionFilter, nodeHealthFilter, gpuResourcesFilter];
/** Spread first, then bin-pack; node id breaks ties so a pass is deterministic. */
export const DEFAULT_SCORES: readonly ScorePlugin[] = [spreadScore, binpackScore];

/**
 * Picks a node and its GPUs for one replica of `dep` in `region`: filter, then score.
 * Never returns a node outside `region`; when nothing fits, the reason says why per node.
 */
export function placeReplica(
  dep: Deployment,
  region: string,
  nodes: readonly NodeReport[],
  taken: TakenGpus,
  replicasByNode: ReadonlyMap<string, number>,
  plugins: { filters?: readonly FilterPlugin[]; scores?: readonly ScorePlugin[] } = {},
): PlacementResult {
  const filters = plugins.filters ?? DEFAULT_FILTERS;
  const scores = plugins.scores ?? DEFAULT_SCORES;
  const ctx: PlacementContext = { deployment: dep, region, taken, replicasByNode };
  const reasons: string[] = [];
  const feasible: { node: NodeReport; free: GpuTelemetry[]; scores: number[] }[] = [];
  for (const node of nodes) {
    const rejected = firstRejection(filters, ctx, node);
    if (rejected !== undefined) {
      reasons.push(rejected);
      continue;
    }
    const free = freeGpus(ctx, node);
    feasible.push({ node, free, scores: scores.map((s) => s.score(ctx, node, free)) });
  }
  feasible.sort((a, b) => compareScores(b.scores, a.scores) || compareIds(a.node.nodeId, b.node.nodeId));
  const best = feasible[0];
  if (best === undefined) return { ok: false, reason: unavailableReason(region, nodes.length, reasons) };
  return { ok: true, nodeId: best.node.nodeId, gpus: best.free.slice(0, dep.gpusPerReplica).map((g) => g.uuid) };
}

function firstRejection(filters: readonly FilterPlugin[], ctx: PlacementContext, node: NodeReport): string | undefined {
  // Defence in depth: whatever filter list a caller passes, another region is never feasible.
  const region = regionFilter.filter(ctx, node);
  if (!region.ok) return region.reason;
  for (const f of filters) {
    const s = f.filter(ctx, node);
    if (!s.ok) return s.reason;
  }
  return undefined;
}

function compareScores(a: readonly number[], b: readonly number[]): number {
  for (let i = 0; i < Math.max(a.length, b.length); i++) {
    const d = (a[i] ?? 0) - (b[i] ?? 0);
    if (d !== 0) return d;
  }
  return 0;
}

function compareIds(a: string, b: string): number {
  return a < b ? -1 : a > b ? 1 : 0;
}

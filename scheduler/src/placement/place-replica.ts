import type { Deployment, GpuTelemetry, NodeReport } from "@enclave/contracts";
import { freeGpus } from "./free-gpus.js";
import { gpuResourcesFilter } from "./filters/gpu-resources.js";
import { jurisdictionFilter } from "./filters/jurisdiction.js";
import { nodeHealthFilter } from "./filters/node-health.js";
import { nodeSelectorFilter } from "./filters/node-selector.js";
import { regionFilter } from "./filters/region.js";
import { binpackScore } from "./scores/binpack.js";
import { leastAllocatedScore } from "./scores/least-allocated.js";
import { spreadScore } from "./scores/spread.js";
import type { FilterPlugin, PlacementContext, PlacementResult, PlacementStrategy, ScorePlugin, TakenGpus } from "./types.js";
import { unavailableReason } from "./unavailable-reason.js";

/** Cheap, decisive filters first: a node is reported under the first filter it fails. */
export const DEFAULT_FILTERS: readonly FilterPlugin[] = [regionFilter, jurisdictionFilter, nodeHealthFilter, nodeSelectorFilter, gpuResourcesFilter];

/** Score plugins per strategy, compared in order; node id breaks the last tie so a pass is deterministic. */
export const STRATEGY_SCORES: Readonly<Record<PlacementStrategy, readonly ScorePlugin[]>> = {
  binpack: [binpackScore, spreadScore],
  spread: [spreadScore, leastAllocatedScore],
};
export const DEFAULT_SCORES: readonly ScorePlugin[] = STRATEGY_SCORES.binpack;

export interface PlacementRequest {
  deployment: Deployment;
  region: string;
  /** Candidates. Whatever the caller passes, a node of another region is never chosen. */
  nodes: readonly NodeReport[];
  /** Live nodes the caller left out of `nodes` because they are in other regions: counted in the reason only. */
  elsewhere?: number;
  taken: TakenGpus;
  /** Replicas of this deployment already on each node. */
  replicasByNode: ReadonlyMap<string, number>;
  cordoned?: ReadonlySet<string>;
}

export interface PlacementPlugins {
  strategy?: PlacementStrategy;
  filters?: readonly FilterPlugin[];
  /** Overrides the strategy's scores. */
  scores?: readonly ScorePlugin[];
}

const NONE: ReadonlySet<string> = new Set();

/**
 * Picks a node and its GPUs for one replica: filter, then score. Never returns a node outside
 * the region; when nothing fits, the reason counts every node under the first filter it failed.
 */
export function placeReplica(req: PlacementRequest, plugins: PlacementPlugins = {}): PlacementResult {
  const filters = plugins.filters ?? DEFAULT_FILTERS;
  const scores = plugins.scores ?? STRATEGY_SCORES[plugins.strategy ?? "binpack"];
  const dep = req.deployment;
  const freeByNode = new Map<string, GpuTelemetry[]>();
  const ctx: PlacementContext = {
    deployment: dep,
    region: req.region,
    taken: req.taken,
    replicasByNode: req.replicasByNode,
    cordoned: req.cordoned ?? NONE,
    free: (node) => {
      let f = freeByNode.get(node.nodeId);
      if (f === undefined) {
        f = freeGpus(dep, node, req.taken);
        freeByNode.set(node.nodeId, f);
      }
      return f;
    },
  };
  // Rejections counted by reason as they come: the words only matter when nothing fits.
  const rejections = new Map<string, number>();
  if ((req.elsewhere ?? 0) > 0) rejections.set(OTHER_REGION, req.elsewhere ?? 0);
  let best: NodeReport | undefined;
  let bestScores: number[] = [];
  const scoresOf: number[] = new Array<number>(scores.length);
  for (const node of req.nodes) {
    const rejected = firstRejection(filters, ctx, node);
    if (rejected !== undefined) {
      rejections.set(rejected, (rejections.get(rejected) ?? 0) + 1);
      continue;
    }
    const free = ctx.free(node);
    for (let i = 0; i < scores.length; i++) scoresOf[i] = scores[i]!.score(ctx, node, free);
    const d = best === undefined ? 1 : compareScores(scoresOf, bestScores);
    if (d > 0 || (d === 0 && best !== undefined && node.nodeId < best.nodeId)) {
      best = node;
      bestScores = [...scoresOf];
    }
  }
  if (best === undefined) return { ok: false, reason: unavailableReason(req.region, req.nodes.length + (req.elsewhere ?? 0), rejections) };
  return { ok: true, nodeId: best.nodeId, gpus: ctx.free(best).slice(0, dep.gpusPerReplica).map((g) => g.uuid) };
}

const OTHER_REGION = "in another region";

function firstRejection(filters: readonly FilterPlugin[], ctx: PlacementContext, node: NodeReport): string | undefined {
  // Defence in depth: whatever filter list a caller passes, another region is never feasible.
  if (node.region !== ctx.region) return OTHER_REGION;
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

import type { Deployment, GpuTelemetry, NodeReport } from "@enclave/contracts";

/** GPU uuids already promised on each node, by node id. */
export type TakenGpus = ReadonlyMap<string, ReadonlySet<string>>;

/** Everything a filter or score may look at: one replica of `deployment` to place in `region`. */
export interface PlacementContext {
  readonly deployment: Deployment;
  readonly region: string;
  readonly taken: TakenGpus;
  /** Replicas of this deployment already on each node, by node id. */
  readonly replicasByNode: ReadonlyMap<string, number>;
  /** Nodes an operator drained: they take no new replicas. */
  readonly cordoned: ReadonlySet<string>;
  /** The node's GPUs that could host one GPU of this replica (see `freeGpus`), computed once per node. */
  free(node: NodeReport): readonly GpuTelemetry[];
}

export type FilterStatus = { ok: true } | { ok: false; reason: string };

/** A filter plugin: may this node take the replica at all? The reason is what an operator reads. */
export interface FilterPlugin {
  readonly name: string;
  filter(ctx: PlacementContext, node: NodeReport): FilterStatus;
}

/** A score plugin: higher is better. Scores are compared in plugin order, the first difference wins. */
export interface ScorePlugin {
  readonly name: string;
  score(ctx: PlacementContext, node: NodeReport, freeGpus: readonly GpuTelemetry[]): number;
}

/** binpack fills nodes (whole nodes stay free for large replicas); spread puts one deployment's replicas on different nodes. */
export type PlacementStrategy = "binpack" | "spread";

export type PlacementResult = { ok: true; nodeId: string; gpus: string[] } | { ok: false; reason: string };

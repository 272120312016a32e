import { z } from "zod";
import { Id, ModelName, Region } from "./common.js";
import { Deployment } from "./deployment.js";
import { NodeReport } from "./node-report.js";

/** A live node as the scheduler lists it: its last report and when that arrived (scheduler clock, ms). */
export const NodeStatus = NodeReport.extend({ receivedAt: z.number().int() });
export type NodeStatus = z.infer<typeof NodeStatus>;

/** An operator took a node out of placement (`enclave drain`): no new replicas, existing ones move away. */
export const Cordon = z.object({
  /** ms since epoch. */
  since: z.number().int(),
  /** The operator token id that drained it. */
  by: z.string().max(100),
  reason: z.string().max(500),
});
export type Cordon = z.infer<typeof Cordon>;

/**
 * How the scheduler sees a node: `ready` takes replicas; `degraded` too (a health warning);
 * `draining`: cordoned, replicas still being moved; `cordoned`: cordoned and empty;
 * `failed`/`unknown`: its health forbids placement.
 */
export const NodeSchedulingState = z.enum(["ready", "degraded", "draining", "cordoned", "failed", "unknown"]);
export type NodeSchedulingState = z.infer<typeof NodeSchedulingState>;

/** One node in `GET /v1/nodes`: its last report, its state and the replicas placed on it (`deployment/region/ordinal`). */
export const NodeView = NodeStatus.extend({
  state: NodeSchedulingState,
  cordon: Cordon.nullable(),
  replicas: z.array(z.string()),
});
export type NodeView = z.infer<typeof NodeView>;

/** `GET /v1/nodes`. */
export const NodeList = z.object({ nodes: z.array(NodeView) });
export type NodeList = z.infer<typeof NodeList>;

/** `POST /v1/nodes/:id/drain` and `/uncordon`. */
export const DrainRequest = z.strictObject({ reason: z.string().max(500).optional() });
export type DrainRequest = z.infer<typeof DrainRequest>;
export const CordonResult = z.object({ nodeId: Id, cordon: Cordon.nullable(), changed: z.boolean() });
export type CordonResult = z.infer<typeof CordonResult>;

/** ready: every desired replica serves; progressing: all placed, some not ready yet; degraded: some cannot be placed. */
export const RolloutState = z.enum(["ready", "progressing", "degraded"]);
export type RolloutState = z.infer<typeof RolloutState>;

export const RegionStatus = z.object({
  region: Region,
  desired: z.number().int().nonnegative(),
  ready: z.number().int().nonnegative(),
  state: RolloutState,
  /** Empty when ready; otherwise why not, for operators. */
  reason: z.string(),
});
export type RegionStatus = z.infer<typeof RegionStatus>;

export const DeploymentStatus = z.object({
  name: Id,
  model: ModelName,
  /** The deployment generation this status describes (absent for statuses written before generations existed). */
  generation: z.number().int().nonnegative().optional(),
  regions: z.array(RegionStatus),
});
export type DeploymentStatus = z.infer<typeof DeploymentStatus>;

/** `GET /v1/deployments`: as of the leader's last reconcile pass (`updatedAt`, ms; 0 before the first). */
export const DeploymentStatusList = z.object({
  updatedAt: z.number().int(),
  deployments: z.array(DeploymentStatus),
});
export type DeploymentStatusList = z.infer<typeof DeploymentStatusList>;

/** A deployment as stored: the spec, a generation that grows with every change, and who changed it last. */
export const DeploymentRecord = z.object({
  spec: Deployment,
  generation: z.number().int().min(1),
  updatedAt: z.number().int(),
  updatedBy: z.string().max(100),
});
export type DeploymentRecord = z.infer<typeof DeploymentRecord>;

/** `GET /v1/deployments/:name`. */
export const DeploymentView = DeploymentRecord.extend({ status: DeploymentStatus });
export type DeploymentView = z.infer<typeof DeploymentView>;

/** `PUT /v1/deployments/:name`: an identical spec changes nothing (same generation). */
export const ApplyResult = z.object({
  name: Id,
  generation: z.number().int().min(1),
  result: z.enum(["created", "updated", "unchanged"]),
});
export type ApplyResult = z.infer<typeof ApplyResult>;

/** `DELETE /v1/deployments/:name`. */
export const DeleteResult = z.object({ name: Id, deleted: z.literal(true) });
export type DeleteResult = z.infer<typeof DeleteResult>;

/** A placement of one replica on one node: its GPUs and the generation that names its backend. */
export const Placement = z.object({
  nodeId: Id,
  gpus: z.array(z.string()),
  generation: z.number().int().nonnegative(),
});
export type Placement = z.infer<typeof Placement>;

/**
 * Where the scheduler put one desired replica, shared by scheduler replicas through Redis.
 * `nodeId` null: not placed now; the generation is kept so the next placement gets a new one.
 */
export const ReplicaAssignment = z.object({
  nodeId: Id.nullable(),
  gpus: z.array(z.string()),
  generation: z.number().int().nonnegative(),
  /** Digest of the engine settings the placement was started with; a different one rolls the replica. */
  template: z.string().max(64).optional(),
  /** When this placement was made (ms), to notice a start that never shows up. */
  placedAt: z.number().int().optional(),
  /** A replacement started before this placement is stopped (drain, rolling update): the old one serves until it is ready. */
  next: Placement.extend({ template: z.string().max(64).optional(), placedAt: z.number().int().optional() }).optional(),
  /** Placements of this replica that failed in a row, and when the next may be tried (ms). */
  failures: z.number().int().nonnegative().optional(),
  retryAt: z.number().int().optional(),
  /** Why the last placement failed, for the status. */
  lastFailure: z.string().max(500).optional(),
});
export type ReplicaAssignment = z.infer<typeof ReplicaAssignment>;

/** Capacity of one region as of the leader's last pass. */
export const RegionCapacity = z.object({
  region: Region,
  nodes: z.number().int().nonnegative(),
  /** Live nodes that take new replicas (not cordoned, health allows). */
  schedulableNodes: z.number().int().nonnegative(),
  gpus: z.object({
    total: z.number().int().nonnegative(),
    /** Healthy GPUs on schedulable nodes. */
    healthy: z.number().int().nonnegative(),
    /** Healthy GPUs on schedulable nodes that no replica holds or is promised. */
    free: z.number().int().nonnegative(),
  }),
  /** Would every replica placed in the region still fit after losing its largest node? */
  nPlusOne: z.object({
    ok: z.boolean(),
    /** The node whose loss was simulated; null when the region has no node. */
    largestNode: Id.nullable(),
    /** Empty when ok; otherwise which replicas would not fit, and why. */
    reason: z.string(),
  }),
});
export type RegionCapacity = z.infer<typeof RegionCapacity>;

/** `GET /v1/capacity`. */
export const CapacityReport = z.object({
  updatedAt: z.number().int(),
  regions: z.array(RegionCapacity),
});
export type CapacityReport = z.infer<typeof CapacityReport>;

/** Written by the leader after each pass, per cordoned node: when its cordon began and the placements still on it. */
export const DrainProgress = z.record(z.string(), z.object({ since: z.number().int(), remaining: z.number().int().nonnegative() }));
export type DrainProgress = z.infer<typeof DrainProgress>;

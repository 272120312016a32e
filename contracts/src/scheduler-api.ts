import { z } from "zod";
import { Id, ModelName, Region } from "./common.js";
import { NodeReport } from "./node-report.js";

/** A live node as the scheduler lists it: its last report and when that arrived (scheduler clock, ms). */
export const NodeStatus = NodeReport.extend({ receivedAt: z.number().int() });
export type NodeStatus = z.infer<typeof NodeStatus>;

/** `GET /v1/nodes`. */
export const NodeList = z.object({ nodes: z.array(NodeStatus) });
export type NodeList = z.infer<typeof NodeList>;

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
  regions: z.array(RegionStatus),
});
export type DeploymentStatus = z.infer<typeof DeploymentStatus>;

/** `GET /v1/deployments`: as of the leader's last reconcile pass (`updatedAt`, ms; 0 before the first). */
export const DeploymentStatusList = z.object({
  updatedAt: z.number().int(),
  deployments: z.array(DeploymentStatus),
});
export type DeploymentStatusList = z.infer<typeof DeploymentStatusList>;

/**
 * Where the scheduler put one desired replica, shared by scheduler replicas through Redis.
 * `nodeId` null: not placed now; the generation is kept so the next placement gets a new one.
 */
export const ReplicaAssignment = z.object({
  nodeId: Id.nullable(),
  gpus: z.array(z.string()),
  generation: z.number().int().nonnegative(),
});
export type ReplicaAssignment = z.infer<typeof ReplicaAssignment>;

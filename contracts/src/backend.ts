import { z } from "zod";
import { Engine, HttpUrl, Id, ModelName, Region } from "./common.js";

/**
 * starting: engine launched, /health not yet 200; ready: serving;
 * restarting: died, waiting for its backoff; failed: gave up; stopping: being stopped.
 */
export const BackendState = z.enum(["starting", "ready", "restarting", "failed", "stopping"]);
export type BackendState = z.infer<typeof BackendState>;

export const BackendLoad = z.object({
  running: z.number().nonnegative(),
  waiting: z.number().nonnegative(),
  /** 0..1 */
  kvCacheUsage: z.number().min(0).max(1),
});
export type BackendLoad = z.infer<typeof BackendLoad>;

/** Which desired replica a backend fulfils: deployment, region, ordinal and placement generation. */
export const ReplicaRef = z.object({
  deployment: Id,
  region: Region,
  replica: z.number().int().nonnegative(),
  generation: z.number().int().nonnegative(),
});
export type ReplicaRef = z.infer<typeof ReplicaRef>;

export const Backend = z.object({
  id: z.string().min(1),
  nodeId: Id,
  engine: Engine,
  model: ModelName,
  baseUrl: HttpUrl,
  state: BackendState,
  load: BackendLoad.nullable(),
  replica: ReplicaRef,
  gpus: z.array(z.string()),
  restarts: z.number().int().nonnegative().default(0),
  /** Why the backend is not ready (last exit, health error), for operators. */
  detail: z.string().max(2000).optional(),
});
export type Backend = z.infer<typeof Backend>;

/** The one place that names a replica: `deployment/region/ordinal`. */
export function replicaKey(r: Pick<ReplicaRef, "deployment" | "region" | "replica">): string {
  return `${r.deployment}/${r.region}/${r.replica}`;
}

/** Backend ids are unique per node and placement: `node/deployment/region/ordinal/generation`. */
export function backendId(nodeId: string, r: ReplicaRef): string {
  return `${nodeId}/${replicaKey(r)}/g${r.generation}`;
}

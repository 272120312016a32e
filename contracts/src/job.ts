import { z } from "zod";
import { ReplicaRef } from "./backend.js";
import { Engine, ModelName } from "./common.js";

/** A BullMQ job on a node's queue. Both kinds are idempotent. */
export const StartJob = z.object({
  kind: z.literal("start"),
  replica: ReplicaRef,
  model: ModelName,
  engine: Engine,
  image: z.string().optional(),
  args: z.array(z.string()).default([]),
  /** Engine settings from the deployment; tensor parallelism is the number of GPUs. */
  gpuMemoryFraction: z.number().gt(0).max(1).optional(),
  contextLength: z.number().int().min(1).max(100_000_000).optional(),
  /** GPU uuids the scheduler chose on this node. */
  gpus: z.array(z.string()).min(1),
});
export type StartJob = z.infer<typeof StartJob>;

export const StopJob = z.object({
  kind: z.literal("stop"),
  backendId: z.string().min(1),
  reason: z.string().max(500),
});
export type StopJob = z.infer<typeof StopJob>;

export const NodeJob = z.discriminatedUnion("kind", [StartJob, StopJob]);
export type NodeJob = z.infer<typeof NodeJob>;

export const JobResult = z.object({
  ok: z.boolean(),
  backendId: z.string().optional(),
  detail: z.string().max(4000),
});
export type JobResult = z.infer<typeof JobResult>;

/** One queue per node. BullMQ forbids ':' in queue names. */
export function nodeQueueName(nodeId: string): string {
  return `enclave-node-${nodeId}`;
}

/** Idempotent job ids: the same placement always yields the same id (BullMQ forbids ':'). */
export function startJobId(r: ReplicaRef): string {
  return `start.${r.deployment}.${r.region}.${r.replica}.g${r.generation}`;
}
export function stopJobId(backendId: string): string {
  return `stop.${backendId.replaceAll("/", ".")}`;
}

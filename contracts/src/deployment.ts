import { z } from "zod";
import { Engine, Id, Jurisdiction, ModelName, Region } from "./common.js";

/** Desired state of one model: how many replicas in which regions, and what each needs. */
export const Deployment = z.strictObject({
  name: Id,
  model: ModelName,
  engine: Engine.default("vllm"),
  image: z.string().min(1).optional(),
  args: z.array(z.string()).default([]),
  gpusPerReplica: z.number().int().min(1).max(16).default(1),
  /** VRAM each GPU of a replica needs free, MiB. */
  vramPerGpuMiB: z.number().int().nonnegative().default(0),
  replicasPerRegion: z.record(Region, z.number().int().min(0).max(1000)).refine((r) => Object.keys(r).length > 0, "at least one region"),
  jurisdiction: Jurisdiction.optional(),
});
export type Deployment = z.infer<typeof Deployment>;
export type DeploymentInput = z.input<typeof Deployment>;

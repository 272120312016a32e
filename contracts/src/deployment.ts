import { z } from "zod";
import { Engine, Id, Jurisdiction, ModelName, Region } from "./common.js";
import { requestContentArg } from "./engine-args.js";

/** A node id, or a glob over ids: `*` matches any run of characters (`gpu-eu-*`). */
export const NodePattern = z.string().min(1).max(63).regex(/^[A-Za-z0-9*][A-Za-z0-9._*-]*$/, "a node id or a glob of letters, digits, '.', '_', '-' and '*'");

/** Narrow where a deployment may run, beyond region and jurisdiction. Every given selector must match. */
export const DeploymentSelectors = z.strictObject({
  /** Only nodes whose id matches one of these. */
  nodes: z.array(NodePattern).min(1).max(1000).optional(),
  /** Only GPUs whose model name contains one of these, case-insensitively (`H100` matches `NVIDIA H100 80GB HBM3`). */
  gpuModels: z.array(z.string().min(1).max(200)).min(1).max(50).optional(),
});
export type DeploymentSelectors = z.infer<typeof DeploymentSelectors>;

/** Desired state of one model: how many replicas in which regions, and what each needs. */
export const Deployment = z.strictObject({
  name: Id,
  model: ModelName,
  engine: Engine.default("vllm"),
  image: z.string().min(1).optional(),
  /** Passed to the engine last; never a flag that makes it log or dump request content. */
  args: z.array(z.string()).default([]).superRefine((args, ctx) => {
    const bad = requestContentArg(args);
    if (bad !== undefined) ctx.addIssue({ code: "custom", message: `"${bad.slice(0, 100)}" makes the engine write request or response content to its logs or disk; prompts never leave the data path` });
  }),
  /** Fraction of each GPU's memory the engine may take (vLLM `--gpu-memory-utilization`, SGLang `--mem-fraction-static`); engine default when absent. */
  gpuMemoryFraction: z.number().gt(0).max(1).optional(),
  /** Longest context the engine serves, tokens (vLLM `--max-model-len`, SGLang `--context-length`); the model's own when absent. */
  contextLength: z.number().int().min(1).max(100_000_000).optional(),
  gpusPerReplica: z.number().int().min(1).max(16).default(1),
  /** VRAM each GPU of a replica needs free, MiB. */
  vramPerGpuMiB: z.number().int().nonnegative().default(0),
  replicasPerRegion: z.record(Region, z.number().int().min(0).max(1000)).refine((r) => Object.keys(r).length > 0, "at least one region"),
  jurisdiction: Jurisdiction.optional(),
  selectors: DeploymentSelectors.optional(),
  /** GPUs reported `degraded` (a warning for a maintenance window) may take replicas; `failed` and `unknown` never do. */
  allowDegraded: z.boolean().default(false),
});
export type Deployment = z.infer<typeof Deployment>;
export type DeploymentInput = z.input<typeof Deployment>;

/**
 * What `enclave deploy apply -f FILE` reads: one deployment, a list of them, or
 * `deployments: [...]` as in the scheduler's config file. Names must be unique.
 */
export const DeploymentFile = z.preprocess(
  (v) => {
    if (Array.isArray(v)) return v;
    if (v !== null && typeof v === "object" && Object.keys(v).length === 1 && "deployments" in v) return (v as { deployments: unknown }).deployments;
    return [v];
  },
  z
    .array(Deployment)
    .min(1, "no deployment in the file")
    .max(10_000)
    .superRefine((list, ctx) => {
      const seen = new Set<string>();
      list.forEach((d, i) => {
        if (seen.has(d.name)) ctx.addIssue({ code: "custom", path: [i, "name"], message: `duplicate deployment name "${d.name}"` });
        seen.add(d.name);
      });
    }),
);
export type DeploymentFile = z.infer<typeof DeploymentFile>;

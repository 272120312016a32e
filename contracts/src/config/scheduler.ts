import { z } from "zod";
import { Deployment } from "../deployment.js";
import { Id } from "../common.js";
import { Listen, LogLevel, RedisConfig, Sha256Hex } from "./shared.js";

export const SchedulerConfig = z.strictObject({
  listen: Listen.default({ host: "127.0.0.1", port: 8090 }),
  logLevel: LogLevel,
  redis: RedisConfig.default({ url: "redis://127.0.0.1:6379" }),
  /** A node whose last heartbeat is older than this disappears from the registry. */
  nodeTtlMs: z.number().int().min(1000).default(10000),
  reconcileIntervalMs: z.number().int().min(100).default(1000),
  auth: z.strictObject({
    /** Each node's token, hashed; a node token may only heartbeat for its own node. */
    nodes: z.array(z.strictObject({ id: Id, tokenSha256: Sha256Hex })).default([]),
    /** Tokens that may read routes and nodes (gateways), hashed. */
    readers: z.array(z.strictObject({ id: Id, tokenSha256: Sha256Hex })).default([]),
  }),
  deployments: z.array(Deployment).default([]),
}).superRefine((c, ctx) => {
  const seen = new Set<string>();
  c.deployments.forEach((d, i) => {
    if (seen.has(d.name)) ctx.addIssue({ code: "custom", path: ["deployments", i, "name"], message: `duplicate deployment name "${d.name}"` });
    seen.add(d.name);
  });
});
export type SchedulerConfig = z.infer<typeof SchedulerConfig>;

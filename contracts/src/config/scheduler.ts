import { z } from "zod";
import { Deployment } from "../deployment.js";
import { Id } from "../common.js";
import { Listen, LogLevel, RedisConfig, Sha256Hex } from "./shared.js";

/** viewer: reads nodes, deployments and capacity; operator: also deploys, deletes, drains and uncordons. */
export const OperatorRole = z.enum(["viewer", "operator"]);
export type OperatorRole = z.infer<typeof OperatorRole>;

export const PlacementConfig = z.strictObject({
  /**
   * binpack: fill the fullest node that fits (whole nodes stay free for large replicas), then
   * spread as the tie-breaker; spread: put replicas of one deployment on different nodes
   * first, then the emptiest node.
   */
  strategy: z.enum(["binpack", "spread"]).default("binpack"),
  /** A placed replica its node has not reported this long is placed again (a lost or refused start). */
  startTimeoutMs: z.number().int().min(1000).default(180000),
  /** A replica whose backend keeps failing is placed again after a backoff growing from initial to max. */
  failureBackoff: z.strictObject({
    initialMs: z.number().int().min(0).default(10000),
    maxMs: z.number().int().min(0).default(300000),
  }).default({ initialMs: 10000, maxMs: 300000 }),
});
export type PlacementConfig = z.infer<typeof PlacementConfig>;

export const SchedulerConfig = z.strictObject({
  listen: Listen.default({ host: "127.0.0.1", port: 8090 }),
  /** Serve the API over TLS with these PEM files; agents and the CLI verify it against their CA file. */
  tls: z.strictObject({ certFile: z.string().min(1), keyFile: z.string().min(1) }).optional(),
  logLevel: LogLevel,
  redis: RedisConfig.default({ url: "redis://127.0.0.1:6379" }),
  /** A node whose last heartbeat is older than this disappears from the registry. */
  nodeTtlMs: z.number().int().min(1000).default(10000),
  reconcileIntervalMs: z.number().int().min(100).default(1000),
  auth: z.strictObject({
    /** Each node's token, hashed; a node token may only heartbeat for its own node. */
    nodes: z.array(z.strictObject({ id: Id, tokenSha256: Sha256Hex })).default([]),
    /** Route-reader tokens (gateways), hashed: they may read the route table and nothing else. */
    readers: z.array(z.strictObject({ id: Id, tokenSha256: Sha256Hex })).default([]),
    /** Operator tokens (the CLI), hashed, each with its role. */
    operators: z.array(z.strictObject({ id: Id, tokenSha256: Sha256Hex, role: OperatorRole })).default([]),
  }),
  /** Operator actions (deploy, delete, drain, uncordon) are appended here; without it they are refused. */
  audit: z.strictObject({
    /** JSON-lines file, one hash-chained record per action. */
    file: z.string().min(1),
    /** Names this scheduler replica in its records. */
    emitter: Id.default("scheduler"),
  }).optional(),
  placement: PlacementConfig.default({ strategy: "binpack", startTimeoutMs: 180000, failureBackoff: { initialMs: 10000, maxMs: 300000 } }),
  /** Seeded into Redis when a deployment of that name is absent there; after that the API owns it. */
  deployments: z.array(Deployment).default([]),
}).superRefine((c, ctx) => {
  const seen = new Set<string>();
  c.deployments.forEach((d, i) => {
    if (seen.has(d.name)) ctx.addIssue({ code: "custom", path: ["deployments", i, "name"], message: `duplicate deployment name "${d.name}"` });
    seen.add(d.name);
  });
  // One token, one principal: a digest listed twice would make its rights depend on list order.
  const digests = new Set<string>();
  for (const kind of ["nodes", "readers", "operators"] as const) {
    c.auth[kind].forEach((t, i) => {
      if (digests.has(t.tokenSha256)) ctx.addIssue({ code: "custom", path: ["auth", kind, i, "tokenSha256"], message: "this token digest is already listed; each token may stand for one principal only" });
      digests.add(t.tokenSha256);
    });
  }
});
export type SchedulerConfig = z.infer<typeof SchedulerConfig>;

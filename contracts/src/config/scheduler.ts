import { z } from "zod";
import { Deployment } from "../deployment.js";
import { Id, Jurisdiction, Region } from "../common.js";
import { AuditConfig, AuditSpoolConfig } from "./audit.js";
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

/** The scheduler's trail of operator actions: a durable spool, shipped like the gateway's (docs/audit.md). */
export const SchedulerAuditConfig = AuditConfig.extend({
  /** Gone: a single local file was never shipped off the segment (DESIGN §1). */
  file: z.never({ error: "the scheduler no longer writes audit.file: set audit.spool (durable) and audit.sinks (shipped), see docs/configuration.md" }).optional(),
  /** Names this scheduler replica in its records (each replica has a spool directory of its own). */
  emitter: Id.default("scheduler"),
  /** The chain (and sink) of records that name no region, such as deployment changes: normally the scheduler host's region. */
  homeRegion: Region,
  spool: AuditSpoolConfig,
});
export type SchedulerAuditConfig = z.infer<typeof SchedulerAuditConfig>;

export const SchedulerConfig = z.strictObject({
  listen: Listen.default({ host: "127.0.0.1", port: 8090 }),
  /**
   * A second listener that serves only /metrics, /healthz and /readyz (over TLS too when `tls` is
   * set), so Prometheus in the logging segment can scrape the scheduler without reaching its API.
   */
  metricsListen: Listen.optional(),
  /** Serve the API over TLS with these PEM files; agents and the CLI verify it against their CA file. */
  tls: z.strictObject({ certFile: z.string().min(1), keyFile: z.string().min(1) }).optional(),
  logLevel: LogLevel,
  redis: RedisConfig.default({ url: "redis://127.0.0.1:6379" }),
  /** A node whose last heartbeat is older than this disappears from the registry. */
  nodeTtlMs: z.number().int().min(1000).default(10000),
  reconcileIntervalMs: z.number().int().min(100).default(1000),
  auth: z.strictObject({
    /**
     * Each node's token, hashed; a node token may only heartbeat for its own node. `region` and
     * `jurisdiction` pin where that hardware is: a report claiming anything else is refused, so a
     * compromised or misconfigured node cannot draw another region's traffic. Unpinned, a node's
     * own report is trusted (the scheduler warns at start).
     */
    nodes: z.array(z.strictObject({ id: Id, tokenSha256: Sha256Hex, region: Region.optional(), jurisdiction: Jurisdiction.optional() })).default([]),
    /** Route-reader tokens (gateways), hashed: they may read the route table and nothing else. */
    readers: z.array(z.strictObject({ id: Id, tokenSha256: Sha256Hex })).default([]),
    /** Operator tokens (the CLI), hashed, each with its role. */
    operators: z.array(z.strictObject({ id: Id, tokenSha256: Sha256Hex, role: OperatorRole })).default([]),
  }),
  /** Operator actions (deploy, delete, drain, uncordon) are recorded and shipped here; without it they are refused. */
  audit: SchedulerAuditConfig.optional(),
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
  // A record goes to the chain of the region it names (a drained node's), else to the home region's.
  if (c.audit && Object.keys(c.audit.sinks).length > 0) {
    const regions = new Set([c.audit.homeRegion, ...c.deployments.flatMap((d) => Object.keys(d.replicasPerRegion))]);
    const missing = [...regions].filter((r) => !(r in c.audit!.sinks)).sort();
    if (missing.length > 0) {
      ctx.addIssue({ code: "custom", path: ["audit", "sinks"], message: `no sink for region ${missing.join(", ")}: records of operator actions there would never leave the spool` });
    }
  }
});
export type SchedulerConfig = z.infer<typeof SchedulerConfig>;

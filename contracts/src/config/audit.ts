import { z } from "zod";
import { HttpUrl, Id, Region } from "../common.js";
import { SecretRef } from "./shared.js";

/** What of a request's content its audit record keeps (per tenant). */
export const AuditContentMode = z.enum(["none", "sha256", "encrypted"]);
export type AuditContentMode = z.infer<typeof AuditContentMode>;

/** A PEM file path (public material: CA bundles, certificates). */
const PemFile = z.string().min(1);

/** Exponential backoff between attempts to reach a sink, full jitter. */
export const AuditBackoff = z.strictObject({
  initialMs: z.number().int().min(10).max(60_000).default(500),
  maxMs: z.number().int().min(10).max(600_000).default(30_000),
});

const shipping = {
  /** Records per delivery (one TLS connection or one HTTP request each). */
  batchRecords: z.number().int().min(1).max(100_000).default(5000),
  /** Bytes per delivery, roughly (a delivery always carries at least one record). */
  batchBytes: z.number().int().min(4096).max(64 * 1024 * 1024).default(4 * 1024 * 1024),
  /** One delivery: connect, send, acknowledgement. */
  timeoutMs: z.number().int().min(100).max(600_000).default(15_000),
  /** When there is nothing to send, look for new records this often (appends also wake the shipper). */
  pollMs: z.number().int().min(10).max(60_000).default(1000),
  /** After a batch smaller than `batchRecords`, wait this long for more (fewer, fuller deliveries under steady load). */
  lingerMs: z.number().int().min(0).max(60_000).default(200),
  backoff: AuditBackoff.default({ initialMs: 500, maxMs: 30_000 }),
};

/**
 * Syslog over mutual TLS (RFC 5424 messages, RFC 5425 octet-counted framing): what every
 * SIEM and rsyslog/syslog-ng accept. RFC 5425 has no acknowledgement: a delivery counts as
 * acknowledged when the receiver closes its side only after we closed ours (it read up to
 * our close), and never when it closes first (a refusal). See docs/audit.md.
 */
export const SyslogSinkConfig = z.strictObject({
  type: z.literal("syslog"),
  host: z.string().min(1),
  port: z.number().int().min(1).max(65535).default(6514),
  /** Name the receiver's certificate must carry; default: `host`. */
  serverName: z.string().min(1).optional(),
  tls: z.strictObject({
    /** CA bundle the receiver's certificate must chain to. */
    ca: PemFile,
    /** Our client certificate (its name is in the receiver's PermittedPeer list) and its key. */
    cert: PemFile,
    key: SecretRef,
  }),
  /** RFC 5424 HOSTNAME of our messages; default: this machine's host name. */
  hostname: z.string().regex(/^[!-~]{1,255}$/, "1-255 printable ASCII characters without spaces").optional(),
  /** RFC 5424 APP-NAME. */
  appName: z.string().regex(/^[!-~]{1,48}$/, "1-48 printable ASCII characters without spaces").default("enclave"),
  /**
   * We close our side of a delivery no sooner than this after the TLS handshake (the batch is
   * written meanwhile). A receiver that refuses our certificate does so after the handshake by
   * closing the connection; a close before ours is a refusal, so this must exceed the longest
   * time the receiver takes to decide (rsyslog: a few ms, about 100 ms when starved of CPU).
   */
  admissionWindowMs: z.number().int().min(50).max(60_000).default(250),
  ...shipping,
});
export type SyslogSinkConfig = z.infer<typeof SyslogSinkConfig>;

/** JSON lines over HTTP(S) POST (webhook or Loki-style collectors): any 2xx acknowledges the batch. */
export const HttpSinkConfig = z.strictObject({
  type: z.literal("http"),
  url: HttpUrl,
  /** Sent as `Authorization: Bearer …`. */
  token: SecretRef.optional(),
  tls: z
    .strictObject({
      ca: PemFile.optional(),
      cert: PemFile.optional(),
      key: SecretRef.optional(),
    })
    .optional(),
  ...shipping,
});
export type HttpSinkConfig = z.infer<typeof HttpSinkConfig>;

export const AuditSinkConfig = z.discriminatedUnion("type", [SyslogSinkConfig, HttpSinkConfig]);
export type AuditSinkConfig = z.infer<typeof AuditSinkConfig>;

/** The durable local spool: one directory per chain (region), segment files, group commit. */
export const AuditSpoolConfig = z
  .strictObject({
    dir: z.string().min(1),
    /** A segment is sealed and a new one started past this size; only sealed, shipped segments are deleted. */
    segmentBytes: z.number().int().min(4096).max(1024 * 1024 * 1024).default(16 * 1024 * 1024),
    /** All chains' segments together. */
    budgetBytes: z.number().int().min(8192).default(1024 * 1024 * 1024),
    /** `fail-closed`: refuse new requests (503) while the budget is used up; `alert-only`: keep writing, report it. */
    onBudgetExhausted: z.enum(["fail-closed", "alert-only"]).default("fail-closed"),
    /** Space held back for each admitted request's record, so one admitted is one recordable. */
    reserveBytesPerRequest: z.number().int().min(256).max(1024 * 1024).default(8192),
    /**
     * When a record counts as written, and so when the answer waiting for it may go:
     * `durable` (on disk, survives a power cut) or `written` (in the OS page cache: survives a
     * crash or kill -9 of the process, not a power cut or kernel crash; synced right after).
     */
    acknowledge: z.enum(["durable", "written"]).default("durable"),
    groupCommit: z
      .strictObject({
        /**
         * The group-commit window: a lightly loaded spool writes each batch at once; a busy one
         * at most once per window, a batch's first record waiting at most this long (one
         * synchronous write per batch; `written` mode: one fdatasync).
         */
        maxDelayMs: z.number().min(0).max(1000).default(2),
        /** A batch this large is written at once. */
        maxBytes: z.number().int().min(4096).max(64 * 1024 * 1024).default(1024 * 1024),
      })
      .default({ maxDelayMs: 2, maxBytes: 1024 * 1024 }),
  })
  .superRefine((s, ctx) => {
    if (s.budgetBytes < 2 * s.segmentBytes) {
      ctx.addIssue({ code: "custom", path: ["budgetBytes"], message: "must be at least twice segmentBytes (the active segment is never deleted)" });
    }
  });
export type AuditSpoolConfig = z.infer<typeof AuditSpoolConfig>;

/** Ed25519 signatures over the chain, so a verifier can tell a whole chain from one cut short. */
export const AuditCheckpointConfig = z.strictObject({
  /** PKCS#8 PEM Ed25519 private key (`openssl genpkey -algorithm ed25519`). */
  key: SecretRef,
  /** A checkpoint is added this long after the first record it does not cover yet, and on shutdown. */
  intervalMs: z.number().int().min(100).max(3_600_000).default(10_000),
});
export type AuditCheckpointConfig = z.infer<typeof AuditCheckpointConfig>;

/** AES-256-GCM for tenants whose audit content mode is `encrypted`. */
export const AuditContentConfig = z.strictObject({
  /** Written into each record, so the right key can be found years later. */
  keyId: Id,
  /** 32 bytes as 64 hex characters or base64. Never on inference servers. */
  key: SecretRef,
  /** Request + response bytes encrypted per record; beyond this the record says `truncated` (hashes still cover all). */
  maxBytes: z.number().int().min(0).max(1024 * 1024).default(32 * 1024),
});
export type AuditContentConfig = z.infer<typeof AuditContentConfig>;

/** Settings any emitter (gateway, scheduler) shares. */
const auditShape = {
  spool: AuditSpoolConfig.optional(),
  /** One sink per region: records of requests served there (denials: the home region) go to it. */
  sinks: z.record(Region, AuditSinkConfig).default({}),
  checkpoint: AuditCheckpointConfig.optional(),
  /** A record larger than this is refused (the request fails closed): the sink's message size limit must be larger. */
  maxRecordBytes: z.number().int().min(2048).max(4 * 1024 * 1024).default(60_000),
};

export const AuditConfig = z.strictObject(auditShape);
export type AuditConfig = z.infer<typeof AuditConfig>;

export const GatewayAuditConfig = z.strictObject({
  /** Deprecated: a single local JSON-lines file, never shipped. Use `spool`. */
  file: z.string().min(1).optional(),
  ...auditShape,
  content: AuditContentConfig.optional(),
});
export type GatewayAuditConfig = z.infer<typeof GatewayAuditConfig>;

/**
 * The checks that need more than the audit section: every region a record can be
 * written for must have a sink (when any sink is configured), and encrypted content needs a key.
 */
export function checkGatewayAudit(
  c: { homeRegion: string; tenants: readonly { regions: readonly string[]; auditContent?: AuditContentMode }[]; audit: GatewayAuditConfig },
  ctx: z.RefinementCtx,
): void {
  const a = c.audit;
  if ((a.file === undefined) === (a.spool === undefined)) {
    ctx.addIssue({ code: "custom", path: ["audit", "spool"], message: "set exactly one of audit.spool (durable, shipped) or audit.file (deprecated local file)" });
  }
  if (a.file !== undefined) {
    for (const key of ["checkpoint", "content"] as const) {
      if (a[key] !== undefined) ctx.addIssue({ code: "custom", path: ["audit", key], message: "needs audit.spool (audit.file only writes a local file)" });
    }
    if (Object.keys(a.sinks).length > 0) ctx.addIssue({ code: "custom", path: ["audit", "sinks"], message: "needs audit.spool (audit.file only writes a local file)" });
  }
  c.tenants.forEach((t, i) => {
    if (t.auditContent === "encrypted" && a.content === undefined) {
      ctx.addIssue({ code: "custom", path: ["tenants", i, "auditContent"], message: "encrypted needs audit.content (key and keyId)" });
    }
  });
  if (Object.keys(a.sinks).length > 0) {
    const regions = new Set([c.homeRegion, ...c.tenants.flatMap((t) => t.regions)]);
    const missing = [...regions].filter((r) => !(r in a.sinks)).sort();
    if (missing.length > 0) {
      ctx.addIssue({ code: "custom", path: ["audit", "sinks"], message: `no sink for region ${missing.join(", ")}: records of requests served there would never leave the spool` });
    }
  }
}

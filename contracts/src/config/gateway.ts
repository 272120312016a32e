import { isIP } from "node:net";
import { z } from "zod";
import { HttpUrl, Id, Jurisdiction, ModelName, Region } from "../common.js";
import { LogLevel, SecretRef, Sha256Hex } from "./shared.js";
import { AuditContentMode, checkGatewayAudit, GatewayAuditConfig } from "./audit.js";

export const ApiKey = z.strictObject({
  /** Names the key in audit records and logs; the key itself never appears. */
  id: Id,
  sha256: Sha256Hex,
});

/** PII classes the gateway can redact (DESIGN §3.4). */
export const PiiClass = z.enum(["email", "phone", "iban", "card", "us_ssn", "ipv4", "ipv6"]);
export type PiiClass = z.infer<typeof PiiClass>;
export const PII_CLASSES: readonly PiiClass[] = PiiClass.options;

/** A model name, or a glob over names: `*` matches any run of characters, `?` one character. */
export const ModelPattern = z.string().min(1).max(200).regex(/^[\w.\-/:*?]+$/, "a model name or glob of letters, digits, . _ - / : * ?");

/** Per tenant and per gateway replica: N replicas admit up to N times these. */
export const TenantRateLimits = z.strictObject({
  requestsPerMinute: z.number().int().min(1).optional(),
  /** Prompt + completion tokens as the engines report them; charged after each answer. */
  tokensPerMinute: z.number().int().min(1).optional(),
});
export type TenantRateLimits = z.infer<typeof TenantRateLimits>;

export const Tenant = z.strictObject({
  id: Id,
  /** Regions where this tenant's requests may be processed. Never empty: an empty set could only deny. */
  regions: z.array(Region).min(1),
  /** Jurisdictions whose operators may process this tenant's requests; omitted means any (regions still apply). */
  jurisdictions: z.array(Jurisdiction).min(1).optional(),
  /** Model names or globs this tenant may use; omitted means every deployed model. */
  models: z.array(ModelPattern).optional(),
  apiKeys: z.array(ApiKey).default([]),
  /** PII classes replaced in every text part of the request before it leaves the gateway. */
  redact: z.array(PiiClass).optional(),
  /** Also redact the same classes in responses (streams included). */
  redactResponses: z.boolean().optional(),
  rateLimits: TenantRateLimits.optional(),
  /** What this tenant's audit records keep of the bodies: nothing, their SHA-256, or them encrypted (AES-256-GCM). */
  auditContent: AuditContentMode.default("none"),
});
export type Tenant = z.infer<typeof Tenant>;

/** TLS for one listener: PEM files, re-read on SIGHUP. */
export const ListenerTls = z.strictObject({
  cert: z.string().min(1),
  key: z.string().min(1),
  /** CA bundle that client certificates must chain to. */
  clientCa: z.string().min(1).optional(),
  /** Refuse connections without a client certificate from `clientCa`. */
  requireClientCert: z.boolean().default(false),
  minVersion: z.enum(["TLSv1.2", "TLSv1.3"]).default("TLSv1.2"),
});
export type ListenerTls = z.infer<typeof ListenerTls>;

/** A client-facing listener: TLS, or plain HTTP only when `plaintext: true` says so. */
export const GatewayListener = z
  .strictObject({
    host: z.string().min(1).default("127.0.0.1"),
    port: z.number().int().min(0).max(65535),
    tls: ListenerTls.optional(),
    plaintext: z.boolean().optional(),
  })
  .superRefine((l, ctx) => {
    if (l.tls === undefined && l.plaintext !== true) {
      ctx.addIssue({ code: "custom", path: ["tls"], message: "set tls { cert, key } for HTTPS, or plaintext: true to serve plain HTTP (local stacks only)" });
    }
    if (l.tls !== undefined && l.plaintext === true) {
      ctx.addIssue({ code: "custom", path: ["plaintext"], message: "a listener is either tls or plaintext, not both" });
    }
    if (l.tls?.requireClientCert && l.tls.clientCa === undefined) {
      ctx.addIssue({ code: "custom", path: ["tls", "clientCa"], message: "requireClientCert needs clientCa" });
    }
  });
export type GatewayListener = z.infer<typeof GatewayListener>;

/** A backend fronted without a scheduler (existing vLLM/SGLang servers). */
export const StaticRoute = z.strictObject({
  /** Names the backend in headers, audit records and metrics; defaults to `static/<index>`. */
  id: z.string().min(1).max(200).regex(/^[\w.\-/:]+$/, "letters, digits and . _ - / :").optional(),
  model: ModelName,
  region: Region,
  jurisdiction: Jurisdiction,
  url: HttpUrl,
  engine: z.enum(["vllm", "sglang"]).default("vllm"),
});
export type StaticRoute = z.infer<typeof StaticRoute>;

/** "20000" or "20000-20999" (inclusive): the ports one egress rule allows. */
export const PortRange = z
  .string()
  .regex(/^\d{1,5}(?:-\d{1,5})?$/, "a port (\"8000\") or an inclusive range (\"20000-20999\")")
  .refine((s) => {
    const [a, b = a] = s.split("-").map(Number) as [number, number?];
    return a >= 1 && b! <= 65535 && a <= b!;
  }, "ports must be 1–65535, the range's start not above its end");

/** An IPv4 or IPv6 network in CIDR notation: "10.42.0.0/16", "fd00:42::/32". */
export const Cidr = z.string().refine((s) => {
  const m = /^([^/]+)\/(\d{1,3})$/.exec(s);
  if (!m) return false;
  const family = isIP(m[1]!);
  const bits = Number(m[2]);
  return family !== 0 && bits <= (family === 4 ? 32 : 128);
}, "a network in CIDR notation, e.g. 10.42.0.0/16 or fd00:42::/32");

/**
 * Where the gateway may connect to engines, whatever a route table says (defence in
 * depth against a compromised or misconfigured control plane). With it, backend URLs
 * must name literal IP addresses.
 */
export const GatewayEgress = z.strictObject({
  backends: z.array(z.strictObject({ cidr: Cidr, ports: PortRange })).min(1),
});
export type GatewayEgress = z.infer<typeof GatewayEgress>;

export const JwtAuth = z.strictObject({
  /** A local JWKS file ({"keys": [...]}), re-read when it changes. */
  jwksFile: z.string().min(1),
  issuer: z.string().min(1),
  audience: z.string().min(1),
  /** The claim whose value is the tenant id. */
  tenantClaim: z.string().min(1).default("tenant"),
  algorithms: z.array(z.enum(["RS256", "RS384", "RS512", "PS256", "PS384", "PS512", "ES256", "ES384", "ES512", "EdDSA"])).min(1).default(["RS256", "PS256", "ES256", "EdDSA"]),
  clockToleranceSec: z.number().int().min(0).max(300).default(30),
});
export type JwtAuth = z.infer<typeof JwtAuth>;

/** The file named by `auth.apiKeysFile`: keys added without touching the main config. */
export const ApiKeysFile = z.array(z.strictObject({ tenant: Id, id: Id, sha256: Sha256Hex }));
export type ApiKeysFile = z.infer<typeof ApiKeysFile>;

export const GatewayAuth = z.strictObject({
  /** More API keys, re-read when the file changes: YAML/JSON list of { tenant, id, sha256 }. */
  apiKeysFile: z.string().min(1).optional(),
  jwt: JwtAuth.optional(),
  /** How often the key and JWKS files are checked for changes (SIGHUP checks at once). */
  reloadIntervalMs: z.number().int().min(100).max(600000).default(2000),
});
export type GatewayAuth = z.infer<typeof GatewayAuth>;

export const GatewayConfig = z
  .strictObject({
    /** Names this gateway replica in audit records. */
    id: Id.default("gateway"),
    /** Where denied requests are audited (DESIGN §4). */
    homeRegion: Region,
    listen: GatewayListener,
    /** More client-facing listeners (e.g. one requiring client certificates). */
    listeners: z.array(GatewayListener).default([]),
    logLevel: LogLevel,
    scheduler: z
      .strictObject({
        url: HttpUrl,
        /** The gateway's read-only route token. */
        token: SecretRef,
        /** Long-poll wait the gateway asks for, ms. */
        watchTimeoutMs: z.number().int().min(1000).max(60000).default(25000),
        /** CA bundle the scheduler's certificate must chain to (https URLs). */
        ca: z.string().min(1).optional(),
      })
      .optional(),
    /** Backend addresses and ports the gateway may connect to; absent: unrestricted (logged at start). */
    egress: GatewayEgress.optional(),
    /** Route without a scheduler: these backends are the whole table. */
    staticRoutes: z.array(StaticRoute).min(1).optional(),
    tenants: z.array(Tenant).min(1),
    auth: GatewayAuth.default({ reloadIntervalMs: 2000 }),
    /** The durable spool, per-region sinks, checkpoints and content encryption (docs/configuration.md). */
    audit: GatewayAuditConfig,
    proxy: z
      .strictObject({
        /** Other backends tried after a connect error, timeout or 5xx before the first byte. */
        maxRetries: z.number().int().min(0).max(10).default(2),
        connectTimeoutMs: z.number().int().min(1).default(2000),
        /** Until the engine sends response headers (its first byte). */
        headersTimeoutMs: z.number().int().min(1).default(60000),
        /** Idle time allowed between two body chunks. */
        bodyTimeoutMs: z.number().int().min(1).default(60000),
        /** Whole request, first attempt to last byte. */
        totalTimeoutMs: z.number().int().min(1).default(600000),
      })
      .default({ maxRetries: 2, connectTimeoutMs: 2000, headersTimeoutMs: 60000, bodyTimeoutMs: 60000, totalTimeoutMs: 600000 }),
    /** Per backend: consecutive backend faults (connect errors, timeouts, 5xx) open the circuit for `openMs`. */
    breaker: z
      .strictObject({
        failureThreshold: z.number().int().min(1).max(1000).default(5),
        openMs: z.number().int().min(100).max(600000).default(10000),
      })
      .default({ failureThreshold: 5, openMs: 10000 }),
    routing: z
      .strictObject({
        /** Score weights (see docs/configuration.md for each formula). */
        weights: z
          .strictObject({
            inflight: z.number().min(0).default(1),
            queue: z.number().min(0).default(1),
            kvCache: z.number().min(0).default(1),
            affinity: z.number().min(0).default(0.3),
          })
          .default({ inflight: 1, queue: 1, kvCache: 1, affinity: 0.3 }),
        /** Affinity yields when its backend has this many more requests (in flight + waiting) than the least loaded. */
        affinityMaxImbalance: z.number().int().min(0).default(4),
        /** Leading characters of the conversation hashed for prefix affinity. */
        affinityPrefixChars: z.number().int().min(1).max(100000).default(512),
      })
      .default({ weights: { inflight: 1, queue: 1, kvCache: 1, affinity: 0.3 }, affinityMaxImbalance: 4, affinityPrefixChars: 512 }),
    /** Load shedding for this replica: beyond `maxConcurrent`, up to `maxQueue` wait; the rest get 429. */
    limits: z
      .strictObject({
        maxConcurrent: z.number().int().min(1).default(1024),
        maxQueue: z.number().int().min(0).default(1024),
        queueTimeoutMs: z.number().int().min(1).default(10000),
      })
      .default({ maxConcurrent: 1024, maxQueue: 1024, queueTimeoutMs: 10000 }),
    /** Largest request body accepted, bytes. */
    bodyLimitBytes: z.number().int().min(1024).max(64 * 1024 * 1024).default(4 * 1024 * 1024),
  })
  .superRefine((c, ctx) => {
    if ((c.scheduler === undefined) === (c.staticRoutes === undefined)) {
      ctx.addIssue({ code: "custom", path: ["scheduler"], message: "set exactly one of scheduler (watch its route table) or staticRoutes" });
    }
    const ids = new Set(c.tenants.map((t) => t.id));
    if (ids.size !== c.tenants.length) ctx.addIssue({ code: "custom", path: ["tenants"], message: "tenant ids must be unique" });
    checkGatewayAudit(c, ctx);
    // With an egress policy a host name could resolve anywhere: static backends must be literal addresses.
    if (c.egress) {
      (c.staticRoutes ?? []).forEach((r, i) => {
        const host = new URL(r.url).hostname.replace(/^\[|\]$/g, "");
        if (isIP(host) === 0) ctx.addIssue({ code: "custom", path: ["staticRoutes", i, "url"], message: "with egress set, a backend URL must name a literal IP address, not a host name" });
      });
    }
  });
export type GatewayConfig = z.infer<typeof GatewayConfig>;

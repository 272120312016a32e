import { z } from "zod";
import { HttpUrl, Id, Region } from "../common.js";
import { Listen, LogLevel, SecretRef, Sha256Hex } from "./shared.js";

export const ApiKey = z.strictObject({
  /** Names the key in audit records and logs; the key itself never appears. */
  id: Id,
  sha256: Sha256Hex,
});

export const Tenant = z.strictObject({
  id: Id,
  /** Regions where this tenant's requests may be processed. Never empty: an empty set could only deny. */
  regions: z.array(Region).min(1),
  /** Model names this tenant may use; omitted means every deployed model. */
  models: z.array(z.string().min(1)).optional(),
  apiKeys: z.array(ApiKey).default([]),
});
export type Tenant = z.infer<typeof Tenant>;

export const GatewayConfig = z.strictObject({
  /** Names this gateway replica in audit records. */
  id: Id.default("gateway"),
  /** Where denied requests are audited (DESIGN §4). */
  homeRegion: Region,
  listen: Listen.default({ host: "127.0.0.1", port: 8080 }),
  logLevel: LogLevel,
  scheduler: z.strictObject({
    url: HttpUrl,
    /** The gateway's read-only route token. */
    token: SecretRef,
    /** Long-poll wait the gateway asks for, ms. */
    watchTimeoutMs: z.number().int().min(1000).max(60000).default(25000),
  }),
  tenants: z.array(Tenant).min(1),
  audit: z.strictObject({
    /** JSON-lines file, one hash-chained record per request. */
    file: z.string().min(1),
  }),
  proxy: z.strictObject({
    /** Other backends tried after a connect error or 5xx before the first byte. */
    maxRetries: z.number().int().min(0).max(10).default(2),
    connectTimeoutMs: z.number().int().min(1).default(2000),
    /** Until the engine sends response headers. */
    headersTimeoutMs: z.number().int().min(1).default(60000),
    /** Between two body chunks. */
    bodyTimeoutMs: z.number().int().min(1).default(60000),
  }).default({ maxRetries: 2, connectTimeoutMs: 2000, headersTimeoutMs: 60000, bodyTimeoutMs: 60000 }),
  /** Largest request body accepted, bytes. */
  bodyLimitBytes: z.number().int().min(1024).max(64 * 1024 * 1024).default(4 * 1024 * 1024),
});
export type GatewayConfig = z.infer<typeof GatewayConfig>;

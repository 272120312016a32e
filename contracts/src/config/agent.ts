import { z } from "zod";
import { HttpUrl, Id, Jurisdiction, Region } from "../common.js";
import { Listen, LogLevel, RedisConfig, SecretRef } from "./shared.js";

export const SimEngineOptions = z.strictObject({
  ttftMs: z.number().nonnegative().default(20),
  itlMs: z.number().nonnegative().default(5),
  maxConcurrent: z.number().int().min(1).default(64),
  /** Tokens generated when a request sets no max_tokens. */
  outputTokens: z.number().int().min(1).default(16),
});
export type SimEngineOptions = z.infer<typeof SimEngineOptions>;

export const AgentConfig = z.strictObject({
  nodeId: Id,
  region: Region,
  jurisdiction: Jurisdiction,
  logLevel: LogLevel,
  /** Serves /healthz, /readyz and /metrics. */
  listen: Listen.default({ host: "127.0.0.1", port: 9400 }),
  scheduler: z.strictObject({
    url: HttpUrl,
    token: SecretRef,
    heartbeatIntervalMs: z.number().int().min(100).default(2000),
    timeoutMs: z.number().int().min(100).default(5000),
  }),
  redis: RedisConfig.default({ url: "redis://127.0.0.1:6379" }),
  gpus: z.strictObject({
    source: z.literal("sim"),
    count: z.number().int().min(0).max(64).default(8),
    model: z.string().default("NVIDIA H100 80GB HBM3"),
  }),
  engines: z.strictObject({
    driver: z.literal("process"),
    /** Address engines bind and are advertised on. */
    host: z.string().default("127.0.0.1"),
    startupTimeoutMs: z.number().int().min(100).default(120000),
    healthIntervalMs: z.number().int().min(50).default(1000),
    restart: z.strictObject({
      initialBackoffMs: z.number().int().min(0).default(1000),
      maxBackoffMs: z.number().int().min(0).default(30000),
      /** Restarts in a row after which the backend is reported failed. */
      maxRestarts: z.number().int().min(0).default(5),
    }).default({ initialBackoffMs: 1000, maxBackoffMs: 30000, maxRestarts: 5 }),
    sim: SimEngineOptions.default({ ttftMs: 20, itlMs: 5, maxConcurrent: 64, outputTokens: 16 }),
  }),
});
export type AgentConfig = z.infer<typeof AgentConfig>;


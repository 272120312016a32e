import type { RedisConfig } from "@enclave/contracts";
import { readSecret, type Logger } from "@enclave/runtime";
import { Redis } from "ioredis";

/**
 * One connection for the whole process (BullMQ queues share it). Commands fail fast while
 * Redis is away instead of queueing without bound; ioredis keeps reconnecting with backoff.
 */
export function connectRedis(config: RedisConfig, log: Logger, commandTimeoutMs = 5000): Redis {
  const password = config.password ? readSecret(config.password) : undefined;
  const redis = new Redis(config.url, {
    ...(password !== undefined ? { password } : {}),
    enableOfflineQueue: false,
    maxRetriesPerRequest: 1,
    commandTimeout: commandTimeoutMs,
    connectTimeout: 5000,
    retryStrategy: (times) => Math.min(100 * 2 ** Math.min(times, 5), 2000),
  });
  let lastProblem: string | undefined;
  // Without an error listener ioredis prints every failed reconnect; log each distinct problem once.
  redis.on("error", (e: Error) => {
    if (e.message !== lastProblem) log.warn({ err: { message: e.message } }, "redis connection problem");
    lastProblem = e.message;
  });
  redis.on("ready", () => {
    if (lastProblem !== undefined) log.info("redis connection restored");
    lastProblem = undefined;
  });
  return redis;
}

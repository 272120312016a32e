import { z } from "zod";

/** A secret is never written in a config file: it names a file or an environment variable holding it. */
export const SecretRef = z.union([
  z.strictObject({ file: z.string().min(1) }),
  z.strictObject({ env: z.string().regex(/^[A-Z_][A-Z0-9_]*$/, "an environment variable name") }),
]);
export type SecretRef = z.infer<typeof SecretRef>;

export const Listen = z.strictObject({
  host: z.string().min(1).default("127.0.0.1"),
  port: z.number().int().min(0).max(65535),
});
export type Listen = z.infer<typeof Listen>;

/** Lower-case hex SHA-256: how every token and API key is stored. */
export const Sha256Hex = z.string().regex(/^[0-9a-f]{64}$/, "a lower-case hex SHA-256 digest (64 characters)");

export const RedisConfig = z.strictObject({
  url: z.string().regex(/^rediss?:\/\//, "a redis:// or rediss:// URL").default("redis://127.0.0.1:6379"),
  /** The password, if any, comes from here, never from the URL in the file. */
  password: SecretRef.optional(),
});
export type RedisConfig = z.infer<typeof RedisConfig>;

export const LogLevel = z.enum(["fatal", "error", "warn", "info", "debug", "trace", "silent"]).default("info");

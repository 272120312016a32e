import { z } from "zod";

export const AuditDecision = z.enum(["routed", "denied", "failed", "operator"]);
export type AuditDecision = z.infer<typeof AuditDecision>;

const Sha256 = z.string().regex(/^[0-9a-f]{64}$/);
const Base64 = z.string().regex(/^[A-Za-z0-9+/]*={0,2}$/);

/**
 * The bodies as the tenant's audit content mode keeps them. Hashes always cover the whole
 * bodies; `encrypted` adds AES-256-GCM of the request bytes then the response bytes, cut at
 * the configured size (`truncated`). The response is what the engine sent (null when the
 * gateway answered itself).
 */
export const AuditContent = z.discriminatedUnion("mode", [
  z.strictObject({
    mode: z.literal("sha256"),
    requestSha256: Sha256.nullable(),
    requestBytes: z.number().int().nonnegative(),
    responseSha256: Sha256.nullable(),
    responseBytes: z.number().int().nonnegative(),
  }),
  z.strictObject({
    mode: z.literal("encrypted"),
    requestSha256: Sha256.nullable(),
    requestBytes: z.number().int().nonnegative(),
    responseSha256: Sha256.nullable(),
    responseBytes: z.number().int().nonnegative(),
    alg: z.literal("AES-256-GCM"),
    keyId: z.string().min(1),
    /** 12 bytes, base64. */
    iv: Base64,
    /** 16 bytes, base64. */
    tag: Base64,
    /** Base64 of the encrypted request bytes followed by the encrypted response bytes. */
    ciphertext: Base64,
    /** How many of the plaintext bytes are the request's (the rest are the response's). */
    encryptedRequestBytes: z.number().int().nonnegative(),
    truncated: z.boolean(),
  }),
]);
export type AuditContent = z.infer<typeof AuditContent>;

/**
 * One decision. `seq`, `prevHash` and `hash` chain each emitter's records:
 * hash = sha256(canonical JSON of the record without `hash`).
 */
export const AuditRecord = z.object({
  id: z.string().min(1),
  seq: z.number().int().nonnegative(),
  time: z.string(),
  emitter: z.string().min(1),
  tenant: z.string().nullable(),
  principal: z.string().nullable(),
  action: z.string(),
  model: z.string().nullable(),
  allowedRegions: z.array(z.string()),
  region: z.string().nullable(),
  nodeId: z.string().nullable(),
  backendId: z.string().nullable(),
  decision: AuditDecision,
  reason: z.string(),
  status: z.number().int(),
  retries: z.number().int().nonnegative(),
  promptTokens: z.number().int().nonnegative().nullable(),
  completionTokens: z.number().int().nonnegative().nullable(),
  latencyMs: z.number().nonnegative(),
  bodySha256: z.string().nullable(),
  /**
   * PII values replaced, by class (counts only, never the values). Optional so records
   * written before redaction existed still verify; absent reads as `{}`.
   */
  redactions: z.record(z.string(), z.number().int().nonnegative()).optional(),
  /** What the tenant's content mode keeps of the bodies; absent for mode `none`. */
  content: AuditContent.optional(),
  /** Which of the emitter's chains (one per sink region) this record is in; absent in single-file logs. */
  chain: z.string().min(1).optional(),
  prevHash: z.string(),
  hash: z.string(),
});
export type AuditRecord = z.infer<typeof AuditRecord>;
/** What an emitter supplies; the chain adds id, seq, time, emitter and hashes. */
export type AuditEvent = Omit<AuditRecord, "id" | "seq" | "time" | "emitter" | "chain" | "prevHash" | "hash" | "redactions"> & {
  redactions?: Record<string, number>;
};

export const GENESIS_HASH = "0".repeat(64);

/**
 * An entry in a chain that is not a decision: an Ed25519 signature over everything
 * before it (its prevHash commits to the whole chain), so a verifier holding the public
 * key can tell a chain that was cut short from one that ended here.
 * signature = Ed25519(canonical JSON of the checkpoint without `signature` and `hash`);
 * hash = sha256(canonical JSON without `hash`), as for records.
 */
export const AuditCheckpoint = z.object({
  kind: z.literal("checkpoint"),
  id: z.string().min(1),
  seq: z.number().int().nonnegative(),
  time: z.string(),
  emitter: z.string().min(1),
  chain: z.string().min(1).optional(),
  /** sha256 of the public key's DER (SPKI), hex, first 32 characters. */
  keyId: z.string().min(1),
  prevHash: z.string(),
  /** base64 */
  signature: z.string().min(1),
  hash: z.string(),
});
export type AuditCheckpoint = z.infer<typeof AuditCheckpoint>;

import { z } from "zod";

export const AuditDecision = z.enum(["routed", "denied", "failed", "operator"]);
export type AuditDecision = z.infer<typeof AuditDecision>;

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
  prevHash: z.string(),
  hash: z.string(),
});
export type AuditRecord = z.infer<typeof AuditRecord>;
/** What an emitter supplies; the chain adds id, seq, time, emitter and hashes. */
export type AuditEvent = Omit<AuditRecord, "id" | "seq" | "time" | "emitter" | "prevHash" | "hash">;

export const GENESIS_HASH = "0".repeat(64);

import { createHash } from "node:crypto";
import type { AuditRecord } from "@enclave/contracts";
import { canonicalJson } from "./canonical-json.js";

/**
 * sha256 (lower-case hex) of the canonical JSON of a record without its `hash`.
 * A `hash` property present at run time is left out too, so passing a whole
 * record recomputes its hash instead of hashing the old one into it.
 */
export function recordHash(r: Omit<AuditRecord, "hash">): string {
  const { hash: _ignored, ...rest } = r as Omit<AuditRecord, "hash"> & { hash?: unknown };
  return createHash("sha256").update(canonicalJson(rest)).digest("hex");
}

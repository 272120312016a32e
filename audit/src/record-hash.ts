import { hash } from "node:crypto";
import type { AuditRecord } from "@enclave/contracts";
import { canonicalJson } from "./canonical-json.js";

/** sha256 hex of a string's UTF-8 bytes (one-shot `crypto.hash`: about twice as fast as createHash for records). */
export function sha256Hex(s: string): string {
  return hash("sha256", s, "hex");
}

/**
 * sha256 (lower-case hex) of the canonical JSON of a chain entry (a record or a
 * checkpoint) without its `hash`. A `hash` property present at run time is left out
 * too, so passing a whole entry recomputes its hash instead of hashing the old one into it.
 */
export function entryHash(entry: object): string {
  const { hash: _ignored, ...rest } = entry as { hash?: unknown };
  return sha256Hex(canonicalJson(rest));
}

/** {@link entryHash} of a record. */
export function recordHash(r: Omit<AuditRecord, "hash">): string {
  return entryHash(r);
}

import { hash, timingSafeEqual } from "node:crypto";
import type { Tenant } from "@enclave/contracts";
import { bearer } from "@enclave/runtime";
import { invalidApiKey, missingApiKey, type StepResult } from "../errors.js";

/** Who is calling: the tenant and the id of the key they used (the key itself is never kept). */
export interface Principal {
  tenant: Tenant;
  keyId: string;
}

/**
 * API key digests → principals. A presented key is found by its SHA-256: one hash and
 * one lookup whatever the number of keys (a linear scan would cost every request
 * microseconds per configured key). The lookup's timing can only tell an attacker about
 * digests of keys they chose, never a stored key (that would take a preimage); the hit
 * is still confirmed with a constant-time comparison.
 */
export class KeyIndex {
  private readonly byDigest = new Map<string, { digest: Buffer; value: Principal }>();

  constructor(entries: readonly { sha256: string; value: Principal }[]) {
    for (const e of entries) this.byDigest.set(e.sha256, { digest: Buffer.from(e.sha256, "hex"), value: e.value });
  }

  match(presented: string | undefined): Principal | undefined {
    if (!presented) return undefined;
    const hex = hash("sha256", presented, "hex");
    const e = this.byDigest.get(hex);
    return e !== undefined && timingSafeEqual(e.digest, Buffer.from(hex, "hex")) ? e.value : undefined;
  }
}

/**
 * Every tenant's API key digests in one constant-time set. A digest listed twice
 * would make the tenant depend on config order, so it is a startup error.
 */
export function buildKeyIndex(tenants: readonly Tenant[]): KeyIndex {
  const seen = new Map<string, string>();
  const entries: { sha256: string; value: Principal }[] = [];
  for (const tenant of tenants) {
    for (const key of tenant.apiKeys) {
      const where = `tenant ${tenant.id} key ${key.id}`;
      const before = seen.get(key.sha256);
      if (before) throw new Error(`the same API key digest is configured twice (${before} and ${where})`);
      seen.set(key.sha256, where);
      entries.push({ sha256: key.sha256, value: { tenant, keyId: key.id } });
    }
  }
  return new KeyIndex(entries);
}

export function authenticate(authorization: string | undefined, keys: KeyIndex): StepResult<Principal> {
  const presented = bearer(authorization);
  if (!presented) return { ok: false, error: missingApiKey() };
  const principal = keys.match(presented);
  return principal ? { ok: true, value: principal } : { ok: false, error: invalidApiKey() };
}

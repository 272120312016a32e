import type { Tenant } from "@enclave/contracts";
import { bearer, TokenSet } from "@enclave/runtime";
import { invalidApiKey, missingApiKey, type StepResult } from "../errors.js";

/** Who is calling: the tenant and the id of the key they used (the key itself is never kept). */
export interface Principal {
  tenant: Tenant;
  keyId: string;
}

export type KeyIndex = TokenSet<Principal>;

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
  return new TokenSet(entries);
}

export function authenticate(authorization: string | undefined, keys: KeyIndex): StepResult<Principal> {
  const presented = bearer(authorization);
  if (!presented) return { ok: false, error: missingApiKey() };
  const principal = keys.match(presented);
  return principal ? { ok: true, value: principal } : { ok: false, error: invalidApiKey() };
}

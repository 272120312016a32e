import { regionNotAllowed, type StepResult } from "../errors.js";

/** Longest `x-enclave-region` header read; anything longer is not a list of regions. */
const MAX_HEADER_LENGTH = 2048;

/**
 * Allowed regions = the tenant's regions, narrowed by the optional `x-enclave-region`
 * header (a comma list). The header can only narrow: naming a region outside the
 * tenant's set is refused, not ignored, so a client never believes it got a region
 * it did not get. The result keeps the tenant's order and is never empty.
 */
export function decideResidency(tenantRegions: readonly string[], header: string | undefined): StepResult<string[]> {
  if (header === undefined) {
    return tenantRegions.length > 0
      ? { ok: true, value: [...tenantRegions] }
      : { ok: false, error: regionNotAllowed("No region is allowed for this API key.") };
  }
  if (header.length > MAX_HEADER_LENGTH) {
    return { ok: false, error: regionNotAllowed("The x-enclave-region header is too long.") };
  }
  const requested = header.split(",").map((s) => s.trim()).filter((s) => s !== "");
  for (const r of requested) {
    if (!tenantRegions.includes(r)) {
      return { ok: false, error: regionNotAllowed(`Region '${r.slice(0, 64)}' is not allowed for this API key.`) };
    }
  }
  const allowed = tenantRegions.filter((r) => requested.includes(r));
  if (allowed.length === 0) {
    return { ok: false, error: regionNotAllowed("The x-enclave-region header names no region.") };
  }
  return { ok: true, value: allowed };
}

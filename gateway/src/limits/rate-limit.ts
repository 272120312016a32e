import type { TenantRateLimits } from "@enclave/contracts";

/** A token bucket as plain data: `tokens` available at `at` (ms). */
export interface Bucket {
  tokens: number;
  at: number;
}

/** Refill at `perMinute / 60000` per ms up to `perMinute` (one minute of burst). */
export function refill(b: Bucket, perMinute: number, now: number): Bucket {
  if (now <= b.at) return b;
  return { tokens: Math.min(perMinute, b.tokens + ((now - b.at) * perMinute) / 60000), at: now };
}

/** Ms until `need` tokens are there (0 when they are). */
export function waitMs(b: Bucket, need: number, perMinute: number): number {
  return b.tokens >= need ? 0 : Math.ceil(((need - b.tokens) * 60000) / perMinute);
}

export type RateDecision = { ok: true } | { ok: false; retryAfterMs: number; limit: "requests" | "tokens" };

/**
 * Per-tenant request and token rates for this gateway replica. Requests are
 * charged on admission; tokens after each answer (the engine's usage), so a
 * tenant over its token budget is refused until the bucket refills.
 */
export class TenantRateLimiter {
  private readonly requests = new Map<string, Bucket>();
  private readonly tokens = new Map<string, Bucket>();

  constructor(private readonly now: () => number = Date.now) {}

  admit(tenant: string, limits: TenantRateLimits | undefined): RateDecision {
    if (!limits) return { ok: true };
    const now = this.now();
    if (limits.tokensPerMinute !== undefined) {
      const t = refill(this.tokens.get(tenant) ?? { tokens: limits.tokensPerMinute, at: now }, limits.tokensPerMinute, now);
      this.tokens.set(tenant, t);
      if (t.tokens < 1) return { ok: false, retryAfterMs: waitMs(t, 1, limits.tokensPerMinute), limit: "tokens" };
    }
    if (limits.requestsPerMinute !== undefined) {
      const r = refill(this.requests.get(tenant) ?? { tokens: limits.requestsPerMinute, at: now }, limits.requestsPerMinute, now);
      if (r.tokens < 1) {
        this.requests.set(tenant, r);
        return { ok: false, retryAfterMs: waitMs(r, 1, limits.requestsPerMinute), limit: "requests" };
      }
      this.requests.set(tenant, { tokens: r.tokens - 1, at: r.at });
    }
    return { ok: true };
  }

  /** Charges the tokens an answer used (may go negative: the next requests wait for it). */
  charge(tenant: string, limits: TenantRateLimits | undefined, used: number): void {
    if (!limits?.tokensPerMinute || used <= 0) return;
    const now = this.now();
    const t = refill(this.tokens.get(tenant) ?? { tokens: limits.tokensPerMinute, at: now }, limits.tokensPerMinute, now);
    this.tokens.set(tenant, { tokens: t.tokens - used, at: t.at });
  }
}

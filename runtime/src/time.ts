import { setTimeout as delay } from "node:timers/promises";

export { delay };

/** Exponential backoff with full jitter in [base/2, base]: attempt 0 → initial. */
export function backoffMs(attempt: number, initialMs: number, maxMs: number): number {
  const base = Math.min(maxMs, initialMs * 2 ** Math.min(attempt, 30));
  return Math.round(base / 2 + (Math.random() * base) / 2);
}

/** Polls `cond` until it returns a truthy value or the deadline passes. */
export async function waitFor<T>(
  cond: () => T | Promise<T>,
  opts: { timeoutMs: number; intervalMs?: number; what?: string; signal?: AbortSignal },
): Promise<NonNullable<T>> {
  const deadline = Date.now() + opts.timeoutMs;
  let lastError: unknown;
  for (;;) {
    opts.signal?.throwIfAborted();
    try {
      const v = await cond();
      if (v) return v as NonNullable<T>;
    } catch (e) {
      lastError = e;
    }
    if (Date.now() >= deadline) {
      const why = lastError instanceof Error ? `: ${lastError.message}` : "";
      throw new Error(`timed out after ${opts.timeoutMs} ms waiting for ${opts.what ?? "condition"}${why}`);
    }
    await delay(opts.intervalMs ?? 50, undefined, opts.signal ? { signal: opts.signal } : undefined);
  }
}

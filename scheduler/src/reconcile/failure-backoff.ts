/**
 * How long a replica waits before its next placement after `failures` failed ones in a row:
 * the first failure is retried at once (the node may have been the problem), then the wait
 * doubles from `initialMs` up to `maxMs`. Deterministic, so a pass can be replayed in tests.
 */
export function failureBackoffMs(failures: number, b: { initialMs: number; maxMs: number }): number {
  if (failures <= 1) return 0;
  return Math.min(b.maxMs, b.initialMs * 2 ** Math.min(failures - 2, 30));
}

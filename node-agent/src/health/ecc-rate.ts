/** A counter's value at a moment. */
export interface CountSample {
  time: number;
  count: number;
}

/** A rate over less than this is measured as if over this long, so one burst right after start does not read as a flood. */
export const MIN_RATE_SPAN_MS = 10 * 60_000;
const HOUR_MS = 3_600_000;

/**
 * Growth per hour of a counter over the samples of the last `windowMs`: (newest - oldest) /
 * max(span, 10 min). A counter that went down was reset (GPU reset, reboot); only what came
 * after the reset counts. Null with fewer than two samples.
 */
export function ratePerHour(samples: readonly CountSample[], now: number, windowMs = HOUR_MS): number | null {
  const recent = samples.filter((s) => now - s.time <= windowMs).sort((a, b) => a.time - b.time);
  let start = 0;
  for (let i = 1; i < recent.length; i++) if ((recent[i]?.count ?? 0) < (recent[i - 1]?.count ?? 0)) start = i;
  const span = recent.slice(start);
  const oldest = span[0];
  const newest = span[span.length - 1];
  if (!oldest || !newest || span.length < 2) return null;
  return ((newest.count - oldest.count) * HOUR_MS) / Math.max(newest.time - oldest.time, MIN_RATE_SPAN_MS);
}

/** Keeps per-key samples for `windowMs`, bounded in keys and samples. */
export class CountHistory {
  private readonly byKey = new Map<string, CountSample[]>();

  constructor(
    private readonly windowMs = HOUR_MS,
    private readonly maxSamples = 240,
    private readonly maxKeys = 64,
  ) {}

  add(key: string, sample: CountSample): void {
    let list = this.byKey.get(key);
    if (!list) {
      if (this.byKey.size >= this.maxKeys) return;
      list = [];
      this.byKey.set(key, list);
    }
    // Samples closer than window/maxSamples share a slot (the newest wins), so the window stays covered at any poll rate.
    const step = this.windowMs / this.maxSamples;
    const beforeLast = list[list.length - 2];
    if (beforeLast && sample.time - beforeLast.time < step) list[list.length - 1] = sample;
    else list.push(sample);
    const cutoff = sample.time - this.windowMs;
    while (list.length > 0 && ((list[0]?.time ?? 0) < cutoff || list.length > this.maxSamples)) list.shift();
  }

  rate(key: string, now: number): number | null {
    return ratePerHour(this.byKey.get(key) ?? [], now, this.windowMs);
  }

  /** Forgets keys not in `keep` (GPUs that are gone). */
  retain(keep: ReadonlySet<string>): void {
    for (const k of this.byKey.keys()) if (!keep.has(k)) this.byKey.delete(k);
  }
}

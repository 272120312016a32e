/**
 * First-order lag: over `dtMs`, `value` moves toward `target` by the fraction
 * 1 − e^(−dt/τ). Exact for a target held constant over the interval, so the result
 * depends only on the time series, not on how often it is sampled within a constant stretch.
 */
export function lag(value: number, target: number, dtMs: number, tauMs: number): number {
  if (dtMs <= 0) return value;
  return target + (value - target) * Math.exp(-dtMs / tauMs);
}

/** Power follows load within seconds; the die heats over tens of seconds. */
export const POWER_TAU_MS = 2_000;
export const TEMPERATURE_TAU_MS = 30_000;

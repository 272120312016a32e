import { z } from "zod";

export const HealthState = z.enum(["healthy", "degraded", "failed", "unknown"]);
export type HealthState = z.infer<typeof HealthState>;

export const Health = z.object({
  state: HealthState,
  /** Human-readable reasons, empty when healthy. */
  reasons: z.array(z.string()).default([]),
});
export type Health = z.infer<typeof Health>;

/** One GPU as the agent read it. Numbers that a driver could not report are null. */
export const GpuTelemetry = z.object({
  index: z.number().int().nonnegative(),
  uuid: z.string().min(1),
  name: z.string(),
  memoryTotalMiB: z.number().nonnegative(),
  memoryUsedMiB: z.number().nonnegative(),
  utilizationPct: z.number().min(0).max(100).nullable(),
  temperatureC: z.number().nullable(),
  powerW: z.number().nullable(),
  powerLimitW: z.number().nullable(),
  eccUncorrectedVolatile: z.number().int().nonnegative().nullable().default(null),
  health: Health,
});
export type GpuTelemetry = z.infer<typeof GpuTelemetry>;

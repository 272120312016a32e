import { z } from "zod";

export const HealthState = z.enum(["healthy", "degraded", "failed", "unknown"]);
export type HealthState = z.infer<typeof HealthState>;

export const Health = z.object({
  state: HealthState,
  /** Human-readable reasons, empty when healthy. */
  reasons: z.array(z.string()).default([]),
});
export type Health = z.infer<typeof Health>;

/** A counter a driver may not report (`[N/A]`, ECC off, a GPU generation without it): null. */
const Count = z.number().int().nonnegative().nullable();
const OnOff = z.enum(["enabled", "disabled"]).nullable();

export const GpuEcc = z.object({
  mode: OnOff,
  correctedVolatile: Count,
  uncorrectedVolatile: Count,
  correctedAggregate: Count,
  uncorrectedAggregate: Count,
});
export type GpuEcc = z.infer<typeof GpuEcc>;

/** Page retirement (pre-Ampere data-centre GPUs). */
export const GpuRetiredPages = z.object({ singleBit: Count, doubleBit: Count, pending: z.boolean().nullable() });
export type GpuRetiredPages = z.infer<typeof GpuRetiredPages>;

/** Row remapping (Ampere and later), which replaced page retirement. */
export const GpuRemappedRows = z.object({ correctable: Count, uncorrectable: Count, pending: z.boolean().nullable(), failure: z.boolean().nullable() });
export type GpuRemappedRows = z.infer<typeof GpuRemappedRows>;

export const MigDevice = z.object({
  index: z.number().int().nonnegative(),
  gpuInstanceId: z.number().int().nonnegative().nullable(),
  computeInstanceId: z.number().int().nonnegative().nullable(),
  memoryTotalMiB: z.number().nonnegative().nullable(),
  memoryUsedMiB: z.number().nonnegative().nullable(),
});
export type MigDevice = z.infer<typeof MigDevice>;

export const GpuMig = z.object({ mode: OnOff, devices: z.array(MigDevice).max(64) });
export type GpuMig = z.infer<typeof GpuMig>;

/** An `NVRM: Xid` kernel message about this GPU. `time`: ms since epoch. */
export const XidEvent = z.object({ code: z.number().int().nonnegative(), time: z.number().int(), message: z.string().max(300) });
export type XidEvent = z.infer<typeof XidEvent>;

/**
 * One GPU as the agent read it. Numbers that a driver could not report are null. The fields
 * after `health` came with real telemetry (nvidia-smi); they are optional so reports from
 * simulated GPUs and from older agents still parse.
 */
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
  /** `00000000:3B:00.0`, as nvidia-smi prints it. */
  pciBusId: z.string().max(32).optional(),
  memoryFreeMiB: z.number().nonnegative().nullable().optional(),
  memoryUtilizationPct: z.number().min(0).max(100).nullable().optional(),
  memoryTemperatureC: z.number().nullable().optional(),
  /** Where the driver starts slowing the GPU down, and where it shuts it off. */
  temperatureSlowdownC: z.number().nullable().optional(),
  temperatureShutdownC: z.number().nullable().optional(),
  fanSpeedPct: z.number().nonnegative().nullable().optional(),
  /** `P0` (fastest) to `P12`. */
  performanceState: z.string().max(8).nullable().optional(),
  smClockMHz: z.number().nonnegative().nullable().optional(),
  memoryClockMHz: z.number().nonnegative().nullable().optional(),
  pcieLinkGen: z.number().int().nonnegative().nullable().optional(),
  pcieLinkWidth: z.number().int().nonnegative().nullable().optional(),
  /** Active clock event (throttle) reasons, nvidia-smi's names: `sw_thermal_slowdown`, `hw_power_brake_slowdown`, ... */
  clockEventReasons: z.array(z.string().max(64)).max(16).optional(),
  ecc: GpuEcc.optional(),
  retiredPages: GpuRetiredPages.optional(),
  remappedRows: GpuRemappedRows.optional(),
  mig: GpuMig.optional(),
  /** Recent Xid errors for this GPU, newest last. */
  xidErrors: z.array(XidEvent).max(16).optional(),
});
export type GpuTelemetry = z.infer<typeof GpuTelemetry>;

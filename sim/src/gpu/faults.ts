import { z } from "zod";

const Count = z.number().int().min(0).max(1_000_000_000);

/**
 * Hardware faults a simulated GPU can be told to show, for rehearsals and tests: the counters
 * nvidia-smi would report after such an event. Real GPUs have no such switch.
 */
export const SimGpuFault = z.strictObject({
  /** Volatile uncorrectable (double-bit) ECC errors since the last reset: the GPU is failed while > 0. */
  eccUncorrectedVolatile: Count.optional(),
  /** Volatile corrected (single-bit) ECC errors since the last reset. */
  eccCorrectedVolatile: Count.optional(),
});
export type SimGpuFault = z.infer<typeof SimGpuFault>;

/**
 * A node's injected faults by GPU index, as the simulated source's faults file holds them:
 * `{"1": {"eccUncorrectedVolatile": 1}}`. A GPU not listed has none.
 */
export const SimGpuFaults = z.record(z.string().regex(/^\d{1,2}$/, "a GPU index"), SimGpuFault);
export type SimGpuFaults = z.infer<typeof SimGpuFaults>;

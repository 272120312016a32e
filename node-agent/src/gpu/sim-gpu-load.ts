import type { Backend } from "@enclave/contracts";

export interface SimGpuLoadModel {
  /** Share of a GPU's memory one engine holds while its process runs (weights plus preallocated KV cache). */
  residentFraction: number;
  /** Running requests at which one engine keeps a GPU fully busy. */
  saturatingRequests: number;
}

export const DEFAULT_SIM_GPU_LOAD: SimGpuLoadModel = { residentFraction: 0.45, saturatingRequests: 8 };

/** States in which an engine process holds its GPUs. */
const RESIDENT: ReadonlySet<Backend["state"]> = new Set(["starting", "ready", "stopping"]);

/**
 * What the engines placed on each simulated GPU make it show:
 * memory = Σ residentFraction·total over resident engines (capped at total);
 * utilisation = Σ min(1, running/saturatingRequests) over ready engines (capped at 1).
 */
export function simGpuLoad(
  gpus: readonly { uuid: string; memoryTotalMiB: number }[],
  backends: readonly Pick<Backend, "gpus" | "state" | "load">[],
  model: SimGpuLoadModel = DEFAULT_SIM_GPU_LOAD,
): Map<string, { utilization: number; memoryUsedMiB: number }> {
  const out = new Map<string, { utilization: number; memoryUsedMiB: number }>();
  for (const gpu of gpus) {
    let memory = 0;
    let utilization = 0;
    for (const b of backends) {
      if (!b.gpus.includes(gpu.uuid) || !RESIDENT.has(b.state)) continue;
      memory += model.residentFraction * gpu.memoryTotalMiB;
      if (b.state === "ready" && b.load) utilization += Math.min(1, b.load.running / model.saturatingRequests);
    }
    out.set(gpu.uuid, { utilization: Math.min(1, utilization), memoryUsedMiB: Math.round(Math.min(gpu.memoryTotalMiB, memory)) });
  }
  return out;
}

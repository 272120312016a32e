import { freeGpus } from "../free-gpus.js";
import type { FilterPlugin } from "../types.js";

/** All GPUs of one replica must sit on one node (tensor parallelism does not cross hosts here). */
export const gpuResourcesFilter: FilterPlugin = {
  name: "gpu-resources",
  filter: (ctx, node) => {
    const need = ctx.deployment.gpusPerReplica;
    if (freeGpus(ctx, node).length >= need) return { ok: true };
    const vram = ctx.deployment.vramPerGpuMiB > 0 ? ` with ${ctx.deployment.vramPerGpuMiB} MiB free` : "";
    return { ok: false, reason: `too few free healthy GPUs${vram} (need ${need})` };
  },
};

import type { Deployment } from "@enclave/contracts";
import type { FilterPlugin } from "../types.js";

const reasons = new WeakMap<Deployment, string>();

/** The words for "no room here": the same for every node, so made once per deployment. */
function tooFew(dep: Deployment): string {
  let r = reasons.get(dep);
  if (r === undefined) {
    const health = dep.allowDegraded ? "healthy or degraded" : "healthy";
    const model = dep.selectors?.gpuModels ? ` ${dep.selectors.gpuModels.join("/")}` : "";
    const vram = dep.vramPerGpuMiB > 0 ? ` with ≥ ${dep.vramPerGpuMiB} MiB free` : "";
    r = `too few free ${health}${model} GPUs${vram} (need ${dep.gpusPerReplica})`;
    reasons.set(dep, r);
  }
  return r;
}

/** All GPUs of one replica must sit on one node (tensor parallelism does not cross hosts here). */
export const gpuResourcesFilter: FilterPlugin = {
  name: "gpu-resources",
  filter: (ctx, node) => {
    const dep = ctx.deployment;
    const need = dep.gpusPerReplica;
    // Cheap bound first: a node whose untaken GPUs are too few cannot fit, whatever their health.
    const untaken = node.gpus.length - (ctx.taken.get(node.nodeId)?.size ?? 0);
    if (untaken >= need && ctx.free(node).length >= need) return OK;
    return { ok: false, reason: tooFew(dep) };
  },
};

const OK = { ok: true } as const;

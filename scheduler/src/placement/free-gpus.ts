import type { Deployment, GpuTelemetry, NodeReport } from "@enclave/contracts";
import type { TakenGpus } from "./types.js";

/**
 * Whether a GPU's health lets it take a replica of `dep`: healthy always, degraded only when the
 * deployment allows it (degraded is a warning for a maintenance window), failed and unknown never.
 */
export function gpuUsable(dep: Deployment, g: GpuTelemetry): boolean {
  return g.health.state === "healthy" || (g.health.state === "degraded" && dep.allowDegraded);
}

/** Whether the GPU's model satisfies the deployment's `selectors.gpuModels` (a case-insensitive substring). */
export function gpuModelMatches(dep: Deployment, g: GpuTelemetry): boolean {
  const want = dep.selectors?.gpuModels;
  if (want === undefined) return true;
  const name = g.name.toLowerCase();
  return want.some((m) => name.includes(m.toLowerCase()));
}

/**
 * GPUs of `node` that could host one GPU of a replica of `dep`: usable health, the wanted model,
 * not promised to another replica, and with enough free VRAM. Ordered by index so the choice is stable.
 */
export function freeGpus(dep: Deployment, node: NodeReport, taken: TakenGpus): GpuTelemetry[] {
  const promised = taken.get(node.nodeId);
  const need = dep.vramPerGpuMiB;
  const out: GpuTelemetry[] = [];
  let sorted = true;
  for (const g of node.gpus) {
    if (!gpuUsable(dep, g) || promised?.has(g.uuid) || g.memoryTotalMiB - g.memoryUsedMiB < need || !gpuModelMatches(dep, g)) continue;
    if (out.length > 0 && out[out.length - 1]!.index > g.index) sorted = false;
    out.push(g);
  }
  // Agents report GPUs in index order; sort only when one did not.
  return sorted ? out : out.sort((a, b) => a.index - b.index);
}

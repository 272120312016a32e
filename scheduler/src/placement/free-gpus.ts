import type { GpuTelemetry, NodeReport } from "@enclave/contracts";
import type { PlacementContext } from "./types.js";

/**
 * GPUs of `node` that could host one GPU of the deployment: healthy (degraded is kept for
 * maintenance windows, failed/unknown never), not promised to another replica, and with
 * enough free VRAM. Ordered by index so the choice is stable.
 */
export function freeGpus(ctx: PlacementContext, node: NodeReport): GpuTelemetry[] {
  const taken = ctx.taken.get(node.nodeId);
  const need = ctx.deployment.vramPerGpuMiB;
  return node.gpus
    .filter((g) => g.health.state === "healthy" && !taken?.has(g.uuid) && g.memoryTotalMiB - g.memoryUsedMiB >= need)
    .sort((a, b) => a.index - b.index);
}

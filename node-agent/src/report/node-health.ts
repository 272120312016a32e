import type { GpuTelemetry, Health } from "@enclave/contracts";
import type { GpuSample } from "../gpu/gpu-source.js";

/**
 * The node's health from its GPUs (BMC findings join later). One bad GPU makes the
 * node degraded, not failed: the scheduler avoids that GPU itself and keeps using
 * the others. Telemetry that cannot be read makes the node unknown.
 */
export function nodeHealth(sample: GpuSample): Health {
  if (!sample.ok) return { state: "unknown", reasons: [`GPU telemetry unavailable: ${sample.error}`] };
  const reasons = sample.gpus.filter((g) => g.health.state !== "healthy").map(gpuReason);
  return reasons.length === 0 ? { state: "healthy", reasons: [] } : { state: "degraded", reasons };
}

function gpuReason(g: GpuTelemetry): string {
  const why = g.health.reasons.length > 0 ? `: ${g.health.reasons.join("; ")}` : "";
  return `GPU ${g.index} (${g.uuid}) ${g.health.state}${why}`;
}

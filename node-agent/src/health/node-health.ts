import type { GpuTelemetry, Health } from "@enclave/contracts";
import type { GpuSample } from "../gpu/gpu-source.js";

/** What else, besides each GPU's own state, bears on the node. */
export interface NodeFindings {
  /** From the GPU source about the node's GPUs as a whole (GPUs the driver has but does not list). */
  gpuProblems?: readonly string[];
  /** From the BMC: critical sensors, failed parts, critical event log records. */
  bmc?: readonly string[];
}

/**
 * The node's health. One bad GPU makes the node degraded, not failed: the scheduler avoids
 * that GPU itself and keeps using the others. GPU telemetry that cannot be read at all (no
 * reading, or every GPU unknown) makes the node unknown. Node-wide GPU problems and BMC
 * findings (PSU lost, fan failed, inlet temperature critical) degrade it.
 */
export function nodeHealth(sample: GpuSample, findings: NodeFindings = {}): Health {
  if (!sample.ok) return { state: "unknown", reasons: [`GPU telemetry unavailable: ${sample.error}`] };
  const gpuReasons = sample.gpus.filter((g) => g.health.state !== "healthy").map(gpuReason);
  const extra = [...(findings.gpuProblems ?? []), ...(findings.bmc ?? []).map((f) => `BMC: ${f}`)];
  if (sample.gpus.length > 0 && sample.gpus.every((g) => g.health.state === "unknown")) {
    return { state: "unknown", reasons: [...gpuReasons, ...extra] };
  }
  const reasons = [...gpuReasons, ...extra];
  return reasons.length === 0 ? { state: "healthy", reasons: [] } : { state: "degraded", reasons };
}

function gpuReason(g: GpuTelemetry): string {
  const why = g.health.reasons.length > 0 ? `: ${g.health.reasons.join("; ")}` : "";
  return `GPU ${g.index} (${g.uuid}) ${g.health.state}${why}`;
}

import { Deployment, backendId, type Backend, type DeploymentInput, type GpuTelemetry, type NodeReport, type ReplicaRef } from "@enclave/contracts";

/** Builders for plain test data: defaults describe a healthy idle 80 GiB GPU node. */

export function gpu(nodeId: string, index: number, over: Partial<GpuTelemetry> = {}): GpuTelemetry {
  return {
    index,
    uuid: `GPU-${nodeId}-${index}`,
    name: "NVIDIA H100 80GB HBM3",
    memoryTotalMiB: 81559,
    memoryUsedMiB: 0,
    utilizationPct: 0,
    temperatureC: 40,
    powerW: 70,
    powerLimitW: 700,
    eccUncorrectedVolatile: 0,
    health: { state: "healthy", reasons: [] },
    ...over,
  };
}

export function node(
  nodeId: string,
  region: string,
  jurisdiction: string,
  opts: { gpus?: number | GpuTelemetry[]; backends?: Backend[]; health?: NodeReport["health"]["state"] } = {},
): NodeReport {
  const gpus = typeof opts.gpus === "object" ? opts.gpus : Array.from({ length: opts.gpus ?? 4 }, (_, i) => gpu(nodeId, i));
  return {
    nodeId,
    region,
    jurisdiction,
    time: Date.now(),
    agentVersion: "test",
    health: { state: opts.health ?? "healthy", reasons: [] },
    gpus,
    backends: opts.backends ?? [],
  };
}

export function deployment(input: Partial<DeploymentInput> & Pick<DeploymentInput, "name" | "replicasPerRegion">): Deployment {
  return Deployment.parse({ model: `org/${input.name}`, ...input });
}

export function backend(nodeId: string, ref: ReplicaRef, over: Partial<Backend> = {}): Backend {
  return {
    id: backendId(nodeId, ref),
    nodeId,
    engine: "vllm",
    model: `org/${ref.deployment}`,
    baseUrl: "http://127.0.0.1:9",
    state: "ready",
    load: { running: 0, waiting: 0, kvCacheUsage: 0 },
    replica: ref,
    gpus: [`GPU-${nodeId}-0`],
    restarts: 0,
    ...over,
  };
}

export { startAgent, type Agent, type AgentDeps } from "./agent.js";
export type { EngineDriver, EngineHandle, EngineSpec } from "./engine/engine-driver.js";
export { ProcessEngineDriver, type ProcessEngineDriverOptions } from "./engine/process-engine-driver.js";
export { EngineStartError } from "./engine/engine-driver.js";
export { DockerEngineDriver, type DockerEngineDriverOptions } from "./engine/docker/docker-engine-driver.js";
export { containerCreateBody, containerName, LABEL as ENGINE_CONTAINER_LABELS } from "./engine/docker/container-spec.js";
export { ENGINE_PROFILES, engineArgs, type EngineProfile, type EngineProbeSpec, type EngineSettings } from "./engine/profiles/engine-profile.js";
export { httpEngineProbe, type EngineProbe } from "./engine/engine-probe.js";
export { engineLoad, vllmLoad, VLLM_LOAD_METRICS, SGLANG_LOAD_METRICS, type LoadMetricNames } from "./engine/engine-load.js";
export { parsePrometheusText, type PromSample } from "./engine/prometheus-text.js";
export { sampleGpus, type GpuSample, type GpuSource } from "./gpu/gpu-source.js";
export { SimGpuSource, type SimGpuSourceOptions } from "./gpu/sim-gpu-source.js";
export { simGpuLoad, DEFAULT_SIM_GPU_LOAD, type SimGpuLoadModel } from "./gpu/sim-gpu-load.js";
export { NvidiaSmiGpuSource, type NvidiaSmiGpuSourceOptions } from "./gpu/nvidia-smi-gpu-source.js";
export { createGpuSource, type ConfiguredGpuSource } from "./gpu/create-gpu-source.js";
export { BmcClient, type BmcClientOptions } from "./bmc/bmc-client.js";
export { HardwareMonitor, type HardwareMonitorOptions } from "./probe/hardware-monitor.js";
export { gpuHealth, type GpuHealthInput } from "./health/gpu-health.js";
export { bmcFindings } from "./health/bmc-findings.js";
export { nodeHealth, type NodeFindings } from "./report/node-health.js";
export { buildNodeReport, type NodeIdentity, type NodeHardware } from "./report/node-report.js";
export {
  initialTransition,
  transition,
  describeExit,
  type SupervisorPolicy,
  type SupervisorState,
  type SupervisorEvent,
  type SupervisorEffect,
  type EngineExit,
} from "./supervisor/supervisor-machine.js";
export type { HeartbeatResult } from "./heartbeat/heartbeat-loop.js";
export { AGENT_VERSION } from "./version.js";

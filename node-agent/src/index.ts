export { startAgent, type Agent, type AgentDeps } from "./agent.js";
export type { EngineDriver, EngineHandle, EngineSpec } from "./engine/engine-driver.js";
export { ProcessEngineDriver, type ProcessEngineDriverOptions } from "./engine/process-engine-driver.js";
export { httpEngineProbe, type EngineProbe } from "./engine/engine-probe.js";
export { vllmLoad } from "./engine/vllm-load.js";
export { parsePrometheusText, type PromSample } from "./engine/prometheus-text.js";
export { sampleGpus, type GpuSample, type GpuSource } from "./gpu/gpu-source.js";
export { SimGpuSource, type SimGpuSourceOptions } from "./gpu/sim-gpu-source.js";
export { simGpuLoad, DEFAULT_SIM_GPU_LOAD, type SimGpuLoadModel } from "./gpu/sim-gpu-load.js";
export { nodeHealth } from "./report/node-health.js";
export { buildNodeReport, type NodeIdentity } from "./report/node-report.js";
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

export { startEngineSim, EngineSimOptions, type EngineSim } from "./engine/server.js";
export { EngineFaults, EngineFaultsPatch, NO_FAULTS } from "./engine/faults.js";
export { parseEngineArgs, ENGINE_USAGE, type EngineCliArgs, type CliParse } from "./engine/cli-args.js";
export { TTFT_BUCKETS } from "./engine/metrics.js";
export { SimGpuFleet, type SimGpuFleetOptions } from "./gpu/fleet.js";
export { GPU_MODELS, gpuModelSpec, type GpuModelSpec } from "./gpu/models.js";
export { simGpuUuid } from "./gpu/uuid.js";
export { SimGpuFault, SimGpuFaults } from "./gpu/faults.js";

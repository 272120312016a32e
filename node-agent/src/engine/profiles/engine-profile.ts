import { REQUEST_CONTENT_FLAGS, type EngineProfileName } from "@enclave/contracts";
import { SGLANG_LOAD_METRICS, VLLM_LOAD_METRICS, type LoadMetricNames } from "../engine-load.js";

/** How the agent asks a running engine whether it is ready and how loaded it is. */
export interface EngineProbeSpec {
  /** Must answer 200 before the engine is routed to. Never `/v1/models`: SGLang answers it before warm-up. */
  healthPath: string;
  metricsPath: string;
  loadMetrics: LoadMetricNames;
}

/**
 * What one engine needs to run in a container, as data: the command, how each
 * deployment setting becomes a flag, the port it listens on and how to probe it.
 * A setting whose flag is null is not something this engine takes and is left out.
 */
export interface EngineProfile {
  name: EngineProfileName;
  /** Replaces the image's entrypoint, so a changed default in a newer image cannot change what runs. */
  entrypoint: readonly string[];
  /** The port the engine listens on inside its container (published on a host port of the agent's choice). */
  containerPort: number;
  flags: {
    model: string;
    /** The name clients ask for; the deployment's model name. */
    servedModelName: string | null;
    host: string;
    port: string;
    tensorParallel: string | null;
    gpuMemoryFraction: string | null;
    contextLength: string | null;
  };
  /** Always passed, after the settings and before the deployment's extra arguments. */
  fixedArgs: readonly string[];
  /**
   * Flags that make the engine write request or response content to its log or its disk. The
   * agent refuses deployments that pass them: an engine's log tail travels to the scheduler,
   * and prompts never may (the tail is filtered too; this keeps them out of the node's logs).
   */
  requestContentFlags: readonly string[];
  probe: EngineProbeSpec;
}

/** Where the simulator image (built for tests and rehearsals) keeps the engine simulator. */
export const SIM_IMAGE_APP_DIR = "/opt/enclave";
export const SIM_IMAGE_ENGINE_MAIN = `${SIM_IMAGE_APP_DIR}/node_modules/@enclave/sim/dist/engine-main.js`;

export const ENGINE_PROFILES: Readonly<Record<EngineProfileName, EngineProfile>> = {
  vllm: {
    name: "vllm",
    entrypoint: ["python3", "-m", "vllm.entrypoints.openai.api_server"],
    containerPort: 8000,
    flags: {
      model: "--model",
      servedModelName: "--served-model-name",
      host: "--host",
      port: "--port",
      tensorParallel: "--tensor-parallel-size",
      gpuMemoryFraction: "--gpu-memory-utilization",
      contextLength: "--max-model-len",
    },
    // Request logging is off by default since vLLM 0.10.1 (`--enable-log-requests`); before, it was
    // on unless `--disable-log-requests`, a flag later versions drop, so none is passed here.
    fixedArgs: [],
    requestContentFlags: REQUEST_CONTENT_FLAGS.vllm,
    probe: { healthPath: "/health", metricsPath: "/metrics", loadMetrics: VLLM_LOAD_METRICS },
  },
  sglang: {
    name: "sglang",
    entrypoint: ["python3", "-m", "sglang.launch_server"],
    containerPort: 30000,
    flags: {
      model: "--model-path",
      servedModelName: "--served-model-name",
      host: "--host",
      port: "--port",
      tensorParallel: "--tp",
      gpuMemoryFraction: "--mem-fraction-static",
      contextLength: "--context-length",
    },
    // SGLang serves /metrics only when asked to.
    fixedArgs: ["--enable-metrics"],
    requestContentFlags: REQUEST_CONTENT_FLAGS.sglang,
    probe: { healthPath: "/health", metricsPath: "/metrics", loadMetrics: SGLANG_LOAD_METRICS },
  },
  sim: {
    name: "sim",
    entrypoint: ["node", SIM_IMAGE_ENGINE_MAIN],
    containerPort: 8000,
    flags: {
      model: "--model",
      servedModelName: null,
      host: "--host",
      port: "--port",
      tensorParallel: null,
      gpuMemoryFraction: null,
      contextLength: "--max-model-len",
    },
    fixedArgs: [],
    requestContentFlags: [],
    probe: { healthPath: "/health", metricsPath: "/metrics", loadMetrics: VLLM_LOAD_METRICS },
  },
};

/** Deployment arguments that would make an engine record request content (contracts' list, one place). */
export { requestContentArg } from "@enclave/contracts";

/** The settings of one engine run, from the start job and the agent's choices. */
export interface EngineSettings {
  model: string;
  /** Address and port the engine binds inside its container. */
  host: string;
  port: number;
  tensorParallel: number;
  gpuMemoryFraction?: number | undefined;
  contextLength?: number | undefined;
  /** Passed through unchanged, last, so an operator can override anything above. */
  extraArgs: readonly string[];
}

/** The engine's command-line arguments (after the entrypoint). */
export function engineArgs(p: EngineProfile, s: EngineSettings): string[] {
  const args = [p.flags.model, s.model];
  if (p.flags.servedModelName !== null) args.push(p.flags.servedModelName, s.model);
  args.push(p.flags.host, s.host, p.flags.port, String(s.port));
  if (p.flags.tensorParallel !== null) args.push(p.flags.tensorParallel, String(s.tensorParallel));
  if (p.flags.gpuMemoryFraction !== null && s.gpuMemoryFraction !== undefined) args.push(p.flags.gpuMemoryFraction, String(s.gpuMemoryFraction));
  if (p.flags.contextLength !== null && s.contextLength !== undefined) args.push(p.flags.contextLength, String(s.contextLength));
  args.push(...p.fixedArgs, ...s.extraArgs);
  return args;
}

import type { AgentConfig, Backend } from "@enclave/contracts";
import type { Logger } from "@enclave/runtime";
import { KernelLogReader } from "../host/kernel-log.js";
import type { GpuSource } from "./gpu-source.js";
import { NvidiaSmiGpuSource, nvidiaSmiReadBudgetMs } from "./nvidia-smi-gpu-source.js";
import { SimGpuSource } from "./sim-gpu-source.js";

export interface ConfiguredGpuSource {
  source: GpuSource;
  /** The longest one read may take before it counts as hung. */
  readBudgetMs: number;
  /** Polled on its own interval (real hardware), or read with each heartbeat (simulated GPUs). */
  pollIntervalMs: number | undefined;
  close(): void;
}

/** The GPU source the config names. */
export function createGpuSource(
  config: Pick<AgentConfig, "nodeId" | "gpus" | "health" | "scheduler">,
  opts: { log?: Logger; backends?: () => readonly Backend[]; polling?: boolean } = {},
): ConfiguredGpuSource {
  const g = config.gpus;
  if (g.source === "sim") {
    return {
      source: new SimGpuSource(
        { nodeId: config.nodeId, count: g.count, model: g.model, ...(g.faultsFile !== undefined ? { faultsFile: g.faultsFile } : {}), ...(opts.log ? { log: opts.log } : {}) },
        opts.backends,
      ),
      readBudgetMs: config.scheduler.timeoutMs,
      pollIntervalMs: undefined,
      close: () => {},
    };
  }
  const kernelLog = g.kernelLog !== null ? new KernelLogReader(g.kernelLog) : undefined;
  const source = new NvidiaSmiGpuSource({
    path: g.nvidiaSmi.path,
    timeoutMs: g.nvidiaSmi.timeoutMs,
    detailIntervalMs: g.nvidiaSmi.detailIntervalMs,
    thresholds: config.health,
    // Only where the GPUs are polled; a single read (agent probe) would start a loop for nothing.
    ...(g.nvidiaSmi.loop && opts.polling ? { loop: { intervalMs: g.nvidiaSmi.intervalMs } } : {}),
    ...(kernelLog ? { kernelLog } : {}),
    ...(opts.log ? { log: opts.log } : {}),
  });
  return {
    source,
    readBudgetMs: nvidiaSmiReadBudgetMs(g.nvidiaSmi.timeoutMs),
    pollIntervalMs: g.nvidiaSmi.intervalMs,
    close: () => {
      source.close();
      kernelLog?.close();
    },
  };
}

import { BackendState, HealthState, type Backend, type GpuTelemetry } from "@enclave/contracts";
import { Counter, Gauge, type Registry } from "prom-client";
import type { HeartbeatResult } from "../heartbeat/heartbeat-loop.js";

export interface AgentMetricsSources {
  backends(): readonly Backend[];
  /** The GPUs as last read; empty when they could not be. */
  gpus(): readonly GpuTelemetry[];
}

export interface AgentMetricLabels {
  node: string;
  region: string;
  hostname: string;
}

/** The labels NVIDIA's DCGM exporter puts on every GPU series, plus where the node is. */
const DCGM_LABELS = ["gpu", "UUID", "device", "modelName", "Hostname", "region", "node"] as const;

/**
 * The agent's own counters and, under the DCGM exporter's names and labels, its GPUs,
 * so existing dashboards and alerts work unchanged. GPU and backend series are
 * rebuilt from the latest reading on every scrape, so a vanished GPU leaves no stale series.
 */
export class AgentMetrics {
  private readonly heartbeats: Counter<"result">;
  private readonly restarts: Counter;

  constructor(registry: Registry, labels: AgentMetricLabels, sources: AgentMetricsSources) {
    this.heartbeats = new Counter({
      name: "enclave_agent_heartbeats_total",
      help: "Heartbeats sent to the scheduler, by result (ok, rejected, error, invalid).",
      labelNames: ["result"],
      registers: [registry],
    });
    for (const result of ["ok", "rejected", "error", "invalid"] satisfies HeartbeatResult[]) this.heartbeats.inc({ result }, 0);
    this.restarts = new Counter({
      name: "enclave_agent_engine_restarts_total",
      help: "Engines relaunched after a crash or a failed start.",
      registers: [registry],
    });
    new Gauge({
      name: "enclave_agent_backends",
      help: "Backends on this node by state.",
      labelNames: ["state"],
      registers: [registry],
      collect() {
        const counts = new Map<string, number>(BackendState.options.map((s) => [s, 0]));
        for (const b of sources.backends()) counts.set(b.state, (counts.get(b.state) ?? 0) + 1);
        for (const [state, n] of counts) this.set({ state }, n);
      },
    });

    const gpuGauge = (name: string, help: string, value: (g: GpuTelemetry) => number | null) =>
      new Gauge({
        name,
        help,
        labelNames: DCGM_LABELS,
        registers: [registry],
        collect() {
          this.reset();
          for (const g of sources.gpus()) {
            const v = value(g);
            if (v !== null && Number.isFinite(v)) this.set(dcgmLabels(g, labels), v);
          }
        },
      });
    gpuGauge("DCGM_FI_DEV_GPU_TEMP", "GPU temperature (in C).", (g) => g.temperatureC);
    gpuGauge("DCGM_FI_DEV_POWER_USAGE", "Power draw (in W).", (g) => g.powerW);
    gpuGauge("DCGM_FI_DEV_FB_USED", "Framebuffer memory used (in MiB).", (g) => g.memoryUsedMiB);
    gpuGauge("DCGM_FI_DEV_FB_FREE", "Framebuffer memory free (in MiB).", (g) => Math.max(0, g.memoryTotalMiB - g.memoryUsedMiB));
    gpuGauge("DCGM_FI_DEV_GPU_UTIL", "GPU utilization (in %).", (g) => g.utilizationPct);

    new Gauge({
      name: "enclave_gpu_health_state",
      help: "GPU health as the agent judges it: 1 for the current state, 0 for the others.",
      labelNames: ["gpu", "UUID", "node", "region", "state"],
      registers: [registry],
      collect() {
        this.reset();
        for (const g of sources.gpus()) {
          for (const state of HealthState.options) {
            this.set({ gpu: String(g.index), UUID: g.uuid, node: labels.node, region: labels.region, state }, g.health.state === state ? 1 : 0);
          }
        }
      },
    });
  }

  heartbeat(result: HeartbeatResult): void {
    this.heartbeats.inc({ result });
  }

  engineRestarted(): void {
    this.restarts.inc();
  }
}

function dcgmLabels(g: GpuTelemetry, l: AgentMetricLabels): Record<(typeof DCGM_LABELS)[number], string> {
  return { gpu: String(g.index), UUID: g.uuid, device: `nvidia${g.index}`, modelName: g.name, Hostname: l.hostname, region: l.region, node: l.node };
}

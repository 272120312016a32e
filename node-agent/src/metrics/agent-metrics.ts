import { BackendState, type Backend, type BmcStatus, type GpuTelemetry, type Health } from "@enclave/contracts";
import { Counter, Gauge, type Registry } from "prom-client";
import type { HeartbeatResult } from "../heartbeat/heartbeat-loop.js";
import { registerDcgmMetrics, type NodeLabels } from "./dcgm-metrics.js";
import { registerHealthMetrics } from "./health-metrics.js";
import { registerIpmiMetrics } from "./ipmi-metrics.js";

export interface AgentMetricsSources {
  backends(): readonly Backend[];
  /** The GPUs as last read; empty when they could not be. */
  gpus(): readonly GpuTelemetry[];
  /** The BMC as last read; undefined when none is configured. */
  bmc?(): BmcStatus | undefined;
  /** The node's health as the next heartbeat reports it. */
  nodeHealth?(): Health | undefined;
}

export type AgentMetricLabels = NodeLabels;

/**
 * The agent's own counters; its GPUs under the DCGM exporter's names and labels and its
 * BMC under the IPMI exporter's, so existing dashboards and alerts work unchanged; and its
 * health verdicts. GPU, BMC and backend series are rebuilt from the latest reading on
 * every scrape, so a vanished GPU or sensor leaves no stale series.
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

    // Engine load as the agent scrapes it (vLLM/SGLang /metrics): Prometheus reaches only the agent's port (DESIGN §1).
    const load = (name: string, help: string, value: (l: NonNullable<Backend["load"]>) => number) =>
      new Gauge({
        name,
        help,
        labelNames: ["backend", "deployment", "model", "node", "region"],
        registers: [registry],
        collect() {
          this.reset();
          for (const b of sources.backends()) {
            if (b.state === "ready" && b.load) this.set({ backend: b.id, deployment: b.replica.deployment, model: b.model, node: labels.node, region: labels.region }, value(b.load));
          }
        },
      });
    load("enclave_agent_backend_requests_running", "Requests the engine is running, per ready backend.", (l) => l.running);
    load("enclave_agent_backend_requests_waiting", "Requests queued in the engine, per ready backend.", (l) => l.waiting);
    load("enclave_agent_backend_kv_cache_usage_ratio", "The engine's KV-cache use (0..1), per ready backend.", (l) => l.kvCacheUsage);

    registerDcgmMetrics(registry, labels, sources.gpus);
    registerIpmiMetrics(registry, labels, () => sources.bmc?.());
    registerHealthMetrics(registry, labels, { gpus: sources.gpus, node: () => sources.nodeHealth?.() });
  }

  heartbeat(result: HeartbeatResult): void {
    this.heartbeats.inc({ result });
  }

  engineRestarted(): void {
    this.restarts.inc();
  }
}

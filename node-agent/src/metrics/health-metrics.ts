import { HealthState, type GpuTelemetry, type Health } from "@enclave/contracts";
import { Gauge, type Registry } from "prom-client";
import type { NodeLabels } from "./dcgm-metrics.js";

/** Enclave's own verdicts, one series per state (1 for the current one, 0 for the others), so alerts can match `state`. */
export function registerHealthMetrics(
  registry: Registry,
  labels: Pick<NodeLabels, "node" | "region">,
  sources: { gpus(): readonly GpuTelemetry[]; node?(): Health | undefined },
): void {
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
  new Gauge({
    name: "enclave_node_health_state",
    help: "Node health as the agent judges it (GPUs, BMC): 1 for the current state, 0 for the others.",
    labelNames: ["node", "region", "state"],
    registers: [registry],
    collect() {
      this.reset();
      const h = sources.node?.();
      if (!h) return;
      for (const state of HealthState.options) this.set({ node: labels.node, region: labels.region, state }, h.state === state ? 1 : 0);
    },
  });
}

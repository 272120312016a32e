import { Counter, Gauge, Histogram, type Registry } from "prom-client";

export type HeartbeatResult = "ok" | "unauthorized" | "forbidden" | "invalid" | "error";

/** The scheduler's own metrics, `enclave_scheduler_*`. */
export function createSchedulerMetrics(registry: Registry, sources: { routeWatchers: () => number; liveNodes?: () => readonly { nodeId: string; region: string; receivedAt: number }[] }) {
  const registers = [registry];
  return {
    nodes: new Gauge({ name: "enclave_scheduler_nodes", help: "Live nodes by region.", labelNames: ["region"] as const, registers }),
    heartbeatAge: new Gauge({
      name: "enclave_scheduler_node_heartbeat_age_seconds",
      help: "Seconds since each live node's last accepted heartbeat; a node whose report expired has no series.",
      labelNames: ["node", "region"] as const,
      registers,
      collect() {
        this.reset();
        const now = Date.now();
        for (const n of sources.liveNodes?.() ?? []) this.set({ node: n.nodeId, region: n.region }, Math.max(0, now - n.receivedAt) / 1000);
      },
    }),
    heartbeats: new Counter({ name: "enclave_scheduler_heartbeats_total", help: "Heartbeats received, by result.", labelNames: ["result"] as const, registers }),
    routeTableVersion: new Gauge({ name: "enclave_scheduler_route_table_version", help: "Version of the route table this scheduler serves.", registers }),
    replicas: new Gauge({
      name: "enclave_scheduler_replicas",
      help: "Desired replicas by state (ready, pending: placed but not ready, unplaced), as of the last reconcile pass.",
      labelNames: ["deployment", "region", "state"] as const,
      registers,
    }),
    placementFailures: new Counter({
      name: "enclave_scheduler_placement_failures_total",
      help: "Replica placements that found no node, counted per reconcile pass.",
      labelNames: ["deployment", "region"] as const,
      registers,
    }),
    reconcileDuration: new Histogram({
      name: "enclave_scheduler_reconcile_duration_seconds",
      help: "Duration of reconcile passes.",
      buckets: [0.001, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5],
      registers,
    }),
    deployments: new Gauge({ name: "enclave_scheduler_deployments", help: "Deployments stored, as of the last reconcile pass.", registers }),
    freeGpus: new Gauge({
      name: "enclave_scheduler_free_gpus",
      help: "Healthy GPUs on schedulable nodes that no replica holds, by region, as of the last reconcile pass.",
      labelNames: ["region"] as const,
      registers,
    }),
    nPlusOne: new Gauge({
      name: "enclave_scheduler_capacity_n_plus_one",
      help: "1 when every replica of the region would still fit after losing its largest node, else 0.",
      labelNames: ["region"] as const,
      registers,
    }),
    movingReplicas: new Gauge({
      name: "enclave_scheduler_moving_replicas",
      help: "Replicas moving off a node (drain, rolling update, health unknown), by whether a replacement could be placed.",
      labelNames: ["blocked"] as const,
      registers,
    }),
    cordonedNodes: new Gauge({ name: "enclave_scheduler_cordoned_nodes", help: "Live nodes an operator drained.", registers }),
    leader: new Gauge({ name: "enclave_scheduler_leader", help: "1 while this replica holds the reconcile lease.", registers }),
    routeWatchers: new Gauge({
      name: "enclave_scheduler_route_watchers",
      help: "Route long-polls waiting for a newer table.",
      registers,
      collect() {
        this.set(sources.routeWatchers());
      },
    }),
  };
}

export type SchedulerMetrics = ReturnType<typeof createSchedulerMetrics>;

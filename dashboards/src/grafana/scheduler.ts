import { DashboardBuilder, RowBuilder, type Dashboard } from "@grafana/grafana-foundation-sdk/dashboard";
import { datasourceVariable, labelVariable, matchers, q, states, stateTimeline, timeseries } from "./panels.js";

/**
 * Only the leading replica reconciles, so only its desired-state gauges are current;
 * the others' are as of when they last led.
 */
const leader = (expr: string) => `(${expr} and on (instance) (enclave_scheduler_leader == 1))`;
/** Agent-wide series carry no node label: take it from the same agent's node health. */
const onNode = (expr: string, sel: string) => `${expr} * on (instance) group_left (node, region) max by (instance, node, region) (enclave_node_health_state{${sel}})`;
const NODE = matchers("region", "node");
const REGION = matchers("region");

export function schedulerDashboard(): Dashboard {
  return new DashboardBuilder("Enclave / Scheduler and capacity")
    .uid("enclave-scheduler")
    .description("Desired against actual: deployments per region, free GPUs and the N+1 check, placement failures, node heartbeats, and the engines' queues and KV cache per backend.")
    .tags(["enclave", "scheduler", "capacity"])
    .refresh("30s")
    .time({ from: "now-6h", to: "now" })
    .withVariable(datasourceVariable())
    .withVariable(labelVariable("region", "label_values(enclave_scheduler_nodes, region)"))
    .withVariable(labelVariable("node", 'label_values(enclave_scheduler_node_heartbeat_age_seconds{region=~"$region"}, node)'))

    .withRow(new RowBuilder("Deployments"))
    .withPanel(
      timeseries(
        "Replicas by state per deployment and region",
        { description: "Desired replicas that are ready, pending (placed, not ready yet) or unplaced (no node fits).", min: 0 },
        q(`sum by (deployment, region, state) ${leader(`enclave_scheduler_replicas{${REGION}}`)}`, "{{deployment}} {{region}} {{state}}"),
      ),
    )
    .withPanel(
      timeseries(
        "Replicas not ready per deployment and region",
        { description: "Above 0 the deployment is degraded in that region; for 10 minutes: alert EnclaveDeploymentDegraded.", min: 0 },
        q(`sum by (deployment, region) ${leader(`enclave_scheduler_replicas{${REGION}, state!="ready"}`)}`, "{{deployment}} {{region}}"),
      ),
    )
    .withPanel(
      timeseries(
        "Placement failures",
        { description: "Replica placements that found no node, counted per reconcile pass, with the reason in the deployment's status (`enclave deploy list`).", min: 0 },
        q(`sum by (deployment, region) (rate(enclave_scheduler_placement_failures_total{${REGION}}[$__rate_interval]))`, "{{deployment}} {{region}}"),
      ),
    )
    .withPanel(
      timeseries(
        "Replicas moving",
        { description: "Replicas moving off a node (drain, rolling update, failed GPU), by whether a replacement could be placed yet.", min: 0 },
        q(`max by (blocked) ${leader("enclave_scheduler_moving_replicas")}`, "blocked={{blocked}}"),
      ),
    )

    .withRow(new RowBuilder("Capacity"))
    .withPanel(
      timeseries("Free GPUs per region", { description: "Healthy GPUs on schedulable nodes that no replica holds.", min: 0 }, q(`max by (region) ${leader(`enclave_scheduler_free_gpus{${REGION}}`)}`, "{{region}}")),
    )
    .withPanel(
      stateTimeline(
        "N+1 per region",
        { description: "Whether every replica of the region still fits after losing its largest node (alert EnclaveRegionNPlusOneLost).", mappings: states([[1, "N+1", "green"], [0, "lost", "red"]]) },
        q(`max by (region) ${leader(`enclave_scheduler_capacity_n_plus_one{${REGION}}`)}`, "{{region}}"),
      ),
    )
    .withPanel(timeseries("Live nodes per region", { description: "Nodes whose last heartbeat has not expired.", min: 0 }, q(`max by (region) (enclave_scheduler_nodes{${REGION}})`, "{{region}}")))
    .withPanel(
      timeseries(
        "Heartbeat age per node",
        { description: "Seconds since each live node's last accepted heartbeat. A node whose report expires drops out (alert EnclaveNodeHeartbeatLost).", unit: "s", min: 0 },
        q(`max by (node, region) (enclave_scheduler_node_heartbeat_age_seconds{${NODE}})`, "{{node}}"),
      ),
    )
    .withPanel(
      timeseries("Heartbeats by result", { description: "Heartbeats the scheduler received: ok, or refused (unauthorized, forbidden, invalid).", unit: "reqps", min: 0 }, q("sum by (result) (rate(enclave_scheduler_heartbeats_total[$__rate_interval]))", "{{result}}")),
    )
    .withPanel(
      timeseries(
        "Reconcile pass duration p99",
        { description: "How long the leader's reconcile passes take.", unit: "s", min: 0 },
        q("histogram_quantile(0.99, sum by (le) (rate(enclave_scheduler_reconcile_duration_seconds_bucket[$__rate_interval])))", "p99"),
      ),
    )

    .withRow(new RowBuilder("Engines"))
    .withPanel(
      timeseries(
        "Engine queue depth per backend",
        { description: "Requests waiting inside each engine, as the agent scrapes them. The gateway's routing prefers short queues.", min: 0 },
        q(`max by (backend) (enclave_agent_backend_requests_waiting{${NODE}})`, "{{backend}}"),
        q(`max by (backend) (enclave_agent_backend_requests_running{${NODE}})`, "{{backend}} running"),
      ),
    )
    .withPanel(
      timeseries("KV-cache use per backend", { description: "Each engine's KV-cache use.", unit: "percentunit", min: 0, max: 1 }, q(`max by (backend) (enclave_agent_backend_kv_cache_usage_ratio{${NODE}})`, "{{backend}}")),
    )
    .withPanel(
      timeseries("Engines by state", { description: "Backends on the selected nodes: starting, ready, restarting, failed (gave up after restart.maxRestarts), stopping.", min: 0 }, q(`sum by (state) (${onNode("enclave_agent_backends", NODE)})`, "{{state}}")),
    )
    .withPanel(
      timeseries(
        "Engine restarts per node",
        { description: "Engines relaunched after a crash or a failed start (alert EnclaveEngineCrashLoop).", min: 0 },
        q(`sum by (node) (${onNode("increase(enclave_agent_engine_restarts_total[$__rate_interval])", NODE)})`, "{{node}}"),
      ),
    )
    .build();
}

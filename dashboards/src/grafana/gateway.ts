import { DashboardBuilder, RowBuilder, type Dashboard } from "@grafana/grafana-foundation-sdk/dashboard";
import { datasourceVariable, labelVariable, q, states, stateTimeline, timeseries } from "./panels.js";

/** Gateway replicas are told apart by their scrape target. */
const GW = 'instance=~"$gateway"';
const rate = (metric: string, by: string, extra = "") => `sum by (${by}) (rate(${metric}{${GW}${extra}}[$__rate_interval]))`;
const quantile = (phi: number, histogram: string) => `histogram_quantile(${phi}, sum by (le) (rate(${histogram}_bucket{${GW}}[$__rate_interval])))`;

export function gatewayDashboard(): Dashboard {
  return new DashboardBuilder("Enclave / Gateway and residency")
    .uid("enclave-gateway")
    .description("The data path: requests by serving region, latency and time to first token, retries, fail-closed denials (no_compliant_backend), redactions, load shedding, and the audit trail's backlog and shipping per region's sink.")
    .tags(["enclave", "gateway", "residency", "audit"])
    .refresh("30s")
    .time({ from: "now-6h", to: "now" })
    .withVariable(datasourceVariable())
    .withVariable(labelVariable("gateway", "label_values(enclave_gateway_inflight, instance)", "gateway replica"))
    .withVariable(labelVariable("region", 'label_values(enclave_gateway_requests_total{region!=""}, region)', "serving region"))

    .withRow(new RowBuilder("Requests"))
    .withPanel(
      timeseries(
        "Requests by serving region, model and status",
        { description: "Generation requests per second that reached a backend, by the region that served them. Denied requests have no region and are in the panels below.", unit: "reqps", min: 0, span: 24 },
        q(rate("enclave_gateway_requests_total", "region, model, status", ', region=~"$region"'), "{{region}} {{model}} {{status}}"),
      ),
    )
    .withPanel(
      timeseries("Answers other than 2xx, by status", { description: "Every request the gateway did not answer with 2xx, routed or not.", unit: "reqps", min: 0 }, q(rate("enclave_gateway_requests_total", "status", ', status!~"2.."'), "{{status}}")),
    )
    .withPanel(
      timeseries(
        "Latency p50 and p99",
        { description: "Arrival to the last byte of the answer, all requests.", unit: "s", min: 0 },
        q(quantile(0.5, "enclave_gateway_request_duration_seconds"), "p50"),
        q(quantile(0.99, "enclave_gateway_request_duration_seconds"), "p99"),
      ),
    )
    .withPanel(
      timeseries(
        "Time to first token p50 and p99",
        { description: "Arrival until the engine's first body bytes reached the client (the first token, for streams).", unit: "s", min: 0 },
        q(quantile(0.5, "enclave_gateway_time_to_first_byte_seconds"), "p50"),
        q(quantile(0.99, "enclave_gateway_time_to_first_byte_seconds"), "p99"),
      ),
    )
    .withPanel(
      timeseries(
        "Retries and failovers",
        { description: "Attempts on another backend of the same allowed set (connect error, timeout or 5xx before the first byte), and requests served by another backend than the first tried.", unit: "reqps", min: 0 },
        q(`sum(rate(enclave_gateway_retries_total{${GW}}[$__rate_interval]))`, "retries"),
        q(`sum(rate(enclave_gateway_failovers_total{${GW}}[$__rate_interval]))`, "failovers"),
      ),
    )
    .withPanel(
      timeseries(
        "In flight and queued",
        { description: "Requests being handled, and those waiting for a slot (limits.maxConcurrent).", min: 0 },
        q(`sum(enclave_gateway_inflight{${GW}})`, "in flight"),
        q(`sum(enclave_gateway_queued{${GW}})`, "queued"),
      ),
    )
    .withPanel(
      timeseries(
        "Route table age",
        { description: "Seconds since the scheduler last confirmed each replica's route table. A gateway keeps serving its last good table when the scheduler is away: stale, never wider.", unit: "s", min: 0 },
        q(`max by (instance) (enclave_gateway_route_table_age_seconds{${GW}})`, "{{instance}}"),
      ),
    )

    .withRow(new RowBuilder("Residency and policy"))
    .withPanel(
      timeseries(
        "no_compliant_backend denials by reason",
        { description: "503 no_compliant_backend: nothing in the tenant's allowed regions could serve (none_in_allowed_set, circuits_open, attempts_failed). Enclave never serves elsewhere; alert EnclaveNoCompliantBackend.", unit: "reqps", min: 0 },
        q(rate("enclave_gateway_no_compliant_backend_total", "reason"), "{{reason}}"),
      ),
    )
    .withPanel(
      timeseries("Denials by code", { description: "Requests the gateway answered itself, by error code (authentication, validation, residency, limits).", unit: "reqps", min: 0 }, q(rate("enclave_gateway_denials_total", "reason"), "{{reason}}")),
    )
    .withPanel(
      timeseries("Redactions by class", { description: "PII values replaced before a body left the gateway (request) or reached the client (response).", unit: "short", min: 0 }, q(rate("enclave_gateway_redactions_total", "class, direction"), "{{class}} {{direction}}")),
    )
    .withPanel(
      timeseries(
        "Shed requests (429) by reason",
        { description: "Refused for this replica's load (queue_full, queue_timeout) or the tenant's rate limits (rate_limit_requests, rate_limit_tokens).", unit: "reqps", min: 0 },
        q(rate("enclave_gateway_shed_total", "reason"), "{{reason}}"),
      ),
    )

    .withRow(new RowBuilder("Audit trail"))
    .withPanel(
      timeseries(
        "Audit backlog per region's sink",
        { description: "Records spooled but not yet acknowledged by the region's sink. Growing: alert EnclaveAuditBacklogGrowing.", min: 0 },
        q(`max by (instance, region) (enclave_audit_backlog_records{${GW}, region=~"$region"})`, "{{instance}} → {{region}}"),
      ),
    )
    .withPanel(
      timeseries(
        "Shipping lag per region's sink",
        { description: "Age of the oldest record the sink has not acknowledged.", unit: "s", min: 0 },
        q(`max by (instance, region) (enclave_audit_backlog_age_seconds{${GW}, region=~"$region"})`, "{{instance}} → {{region}}"),
      ),
    )
    .withPanel(
      stateTimeline(
        "Sink reachable",
        { description: "Whether the last delivery to each region's sink succeeded (alert EnclaveAuditSinkDown). A sink outage delays shipping and loses nothing.", mappings: states([[1, "up", "green"], [0, "down", "red"]]) },
        q(`min by (instance, region) (enclave_audit_sink_up{${GW}, region=~"$region"})`, "{{instance}} → {{region}}"),
      ),
    )
    .withPanel(
      timeseries(
        "Records written and shipped",
        { description: "Records made durable in the spool and records acknowledged by the sink, per second.", unit: "short", min: 0 },
        q(`sum by (region) (rate(enclave_audit_records_total{${GW}, region=~"$region"}[$__rate_interval]))`, "{{region}} written"),
        q(`sum by (region) (rate(enclave_audit_shipped_total{${GW}, region=~"$region"}[$__rate_interval]))`, "{{region}} shipped"),
      ),
    )
    .withPanel(
      timeseries(
        "Spool use of its budget",
        { description: "Bytes in the spool against its disk budget. At the budget new requests get 503 audit_unavailable (fail-closed): alert EnclaveAuditSpoolNearBudget.", unit: "percentunit", min: 0, max: 1 },
        q(`max by (instance) (enclave_audit_spool_bytes{${GW}} / enclave_audit_spool_budget_bytes{${GW}})`, "{{instance}}"),
      ),
    )
    .build();
}

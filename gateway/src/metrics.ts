import { HotCounter, HotHistogram } from "@enclave/runtime";
import { Counter, Gauge, type Registry } from "prom-client";

export interface GatewayMetrics {
  /** Every request adds to these (prom-client's cost several µs a call there). */
  requests: HotCounter<"model" | "region" | "status">;
  duration: HotHistogram;
  ttft: HotHistogram;
  retries: Counter;
  failovers: Counter;
  denials: Counter<"reason">;
  noCompliantBackend: Counter<"reason">;
  redactions: Counter<"class" | "direction">;
  shed: Counter<"reason">;
  breakerOpen: Gauge<"backend">;
  inflight: Gauge;
  queued: Gauge;
  tableVersion: Gauge;
  tableAge: Gauge;
  egressRefused: Counter<"reason">;
  auditWait: HotHistogram;
}

/** The completion hold's wait for a record to be durable: group commit plus fsync, sub-millisecond on a good disk. */
const AUDIT_WAIT_BUCKETS = [0.0001, 0.00025, 0.0005, 0.00075, 0.001, 0.0015, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 1];

const LATENCY_BUCKETS = [0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60, 120, 300];

/**
 * Labels carry only bounded values: models the route table knows, regions, status
 * codes, denial codes, PII class names, backend ids from the table. Never prompts,
 * keys or the values redacted.
 */
export function createGatewayMetrics(registry: Registry, tableAgeSeconds: () => number, queueStats: () => { inflight: number; queued: number } = () => ({ inflight: 0, queued: 0 })): GatewayMetrics {
  const registers = [registry];
  return {
    requests: new HotCounter("enclave_gateway_requests_total", "Generation requests by model, serving region and HTTP status (empty labels when not routed)", ["model", "region", "status"], registry),
    duration: new HotHistogram("enclave_gateway_request_duration_seconds", "Time from arrival to the last byte of the answer", LATENCY_BUCKETS, registry),
    ttft: new HotHistogram("enclave_gateway_time_to_first_byte_seconds", "Time from arrival until the engine's first body bytes reached the client (time to first token for streams)", LATENCY_BUCKETS, registry),
    retries: new Counter({
      name: "enclave_gateway_retries_total",
      help: "Attempts on another backend after a connect error, timeout or 5xx before the first byte",
      registers,
    }),
    failovers: new Counter({
      name: "enclave_gateway_failovers_total",
      help: "Requests served by another backend than the first one tried",
      registers,
    }),
    denials: new Counter({
      name: "enclave_gateway_denials_total",
      help: "Requests the gateway answered itself, by error code",
      labelNames: ["reason"] as const,
      registers,
    }),
    noCompliantBackend: new Counter({
      name: "enclave_gateway_no_compliant_backend_total",
      help: "no_compliant_backend denials by why: none_in_allowed_set, circuits_open, attempts_failed",
      labelNames: ["reason"] as const,
      registers,
    }),
    redactions: new Counter({
      name: "enclave_gateway_redactions_total",
      help: "PII values replaced, by class and direction (request, response)",
      labelNames: ["class", "direction"] as const,
      registers,
    }),
    shed: new Counter({
      name: "enclave_gateway_shed_total",
      help: "Requests refused with 429: queue_full, queue_timeout (this replica's load) or rate_limit_requests, rate_limit_tokens (the tenant's)",
      labelNames: ["reason"] as const,
      registers,
    }),
    breakerOpen: new Gauge({
      name: "enclave_gateway_breaker_state",
      help: "Circuit breaker per backend: 0 closed, 0.5 half-open, 1 open",
      labelNames: ["backend"] as const,
      registers,
    }),
    inflight: new Gauge({
      name: "enclave_gateway_inflight",
      help: "Generation requests being handled",
      registers,
      collect() {
        this.set(queueStats().inflight);
      },
    }),
    queued: new Gauge({
      name: "enclave_gateway_queued",
      help: "Generation requests waiting for a slot (limits.maxConcurrent)",
      registers,
      collect() {
        this.set(queueStats().queued);
      },
    }),
    tableVersion: new Gauge({
      name: "enclave_gateway_route_table_version",
      help: "Version of the route table in use (0 before the first)",
      registers,
    }),
    tableAge: new Gauge({
      name: "enclave_gateway_route_table_age_seconds",
      help: "Seconds since the scheduler last confirmed the route table in use (+Inf before the first; 0 for static routes)",
      registers,
      collect() {
        this.set(tableAgeSeconds());
      },
    }),
    egressRefused: new Counter({
      name: "enclave_gateway_egress_refused_total",
      help: "Backends in a route table the gateway refused to dial, counted once when each appears: host_name (not a literal IP), outside_cidrs, port_not_allowed, bad_url",
      labelNames: ["reason"] as const,
      registers,
    }),
    auditWait: new HotHistogram("enclave_gateway_audit_wait_seconds", "Time from handing a request's audit record to the spool until it is durable (group commit and fsync): what the end of each answer waits for", AUDIT_WAIT_BUCKETS, registry),
  };
}

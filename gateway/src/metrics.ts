import { Counter, Gauge, Histogram, type Registry } from "prom-client";

export interface GatewayMetrics {
  requests: Counter<"model" | "region" | "status">;
  duration: Histogram;
  retries: Counter;
  denials: Counter<"reason">;
  inflight: Gauge;
  tableVersion: Gauge;
  tableAge: Gauge;
}

/**
 * Labels carry only bounded values: models the route table knows, regions, status
 * codes, denial codes. Never tenants' prompts or keys.
 */
export function createGatewayMetrics(registry: Registry, tableAgeSeconds: () => number): GatewayMetrics {
  const registers = [registry];
  return {
    requests: new Counter({
      name: "enclave_gateway_requests_total",
      help: "Chat completion requests by model, serving region and HTTP status (empty labels when not routed)",
      labelNames: ["model", "region", "status"] as const,
      registers,
    }),
    duration: new Histogram({
      name: "enclave_gateway_request_duration_seconds",
      help: "Time from arrival to the last byte of the answer",
      buckets: [0.01, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60, 120, 300],
      registers,
    }),
    retries: new Counter({
      name: "enclave_gateway_retries_total",
      help: "Attempts on another backend after a connect error, timeout or 5xx before the first byte",
      registers,
    }),
    denials: new Counter({
      name: "enclave_gateway_denials_total",
      help: "Requests the gateway answered itself, by error code",
      labelNames: ["reason"] as const,
      registers,
    }),
    inflight: new Gauge({
      name: "enclave_gateway_inflight",
      help: "Chat completion requests being handled",
      registers,
    }),
    tableVersion: new Gauge({
      name: "enclave_gateway_route_table_version",
      help: "Version of the route table in use (0 before the first)",
      registers,
    }),
    tableAge: new Gauge({
      name: "enclave_gateway_route_table_age_seconds",
      help: "Seconds since the scheduler last confirmed the route table in use (+Inf before the first)",
      registers,
      collect() {
        this.set(tableAgeSeconds());
      },
    }),
  };
}

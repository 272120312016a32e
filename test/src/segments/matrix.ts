/**
 * DESIGN §1's flow matrix as probes: for every row, flows it allows (they must work) and flows
 * it, or the default deny, forbids (they must time out: the router drops them). Every denied
 * probe aims at a real listener, and the negative control runs them again without the
 * router's table to show they would connect: the firewall denies them, not the routing.
 * Pure data and formatting; the test runs the probes.
 */
import type { Probe, ProbeResult } from "./probe-protocol.js";
import { host, routerAddress, type HostName } from "./topology.js";
import { NAMES, PORTS } from "./services.js";

export const CELLS = {
  clients: "clients → dmz:gateway",
  dmzInference: "dmz → inference: engine ports, scheduler read API",
  dmzLogging: "dmz → logging: audit sink",
  schedulerLogging: "inference (scheduler host) → logging: audit sink",
  prometheus: "logging → inference: agent and scheduler metrics; logging → dmz: gateway metrics",
  gpuEgress: "GPU nodes → anything outside inference",
  inferenceDmz: "inference → dmz",
  otherwise: "anything else (default deny)",
} as const;
export type Cell = (typeof CELLS)[keyof typeof CELLS];

/** How long a denied flow is given to answer: a LAN connect takes well under a millisecond. */
export const DENY_TIMEOUT_MS = 1500;
const ALLOW_TIMEOUT_MS = 8000;

export interface MatrixProbe {
  cell: Cell;
  expect: "allowed" | "denied";
  from: HostName;
  /** The probe in words, for the report. */
  what: string;
  probe: Probe;
  /** An allowed probe's answer must also show this; returns why not. */
  check?: (r: ProbeResult) => string | null;
  /** Without the firewall a denied probe must get this far (`open`; `refused` where nothing listens, as on the router). */
  control?: "open" | "refused";
}

export interface ProbeContext {
  /** The engine each GPU node runs (from the route table). */
  engines: Record<"gpu1" | "gpu2", { host: string; port: number }>;
  /** PEM text of the CA the gateway's certificate chains to. */
  ca: string;
  readerToken: string;
}

const a = (h: HostName) => host(h).address;
const tcp = (h: string, port: number, timeoutMs: number): Probe => ({ kind: "tcp", host: h, port, timeoutMs });
const status200 = (r: ProbeResult) => (r.status === 200 ? null : `HTTP ${r.status}`);

export function matrixProbes(c: ProbeContext): MatrixProbe[] {
  const gw = `https://${a("gateway")}:${PORTS.gateway}`;
  const tls = { ca: c.ca, servername: NAMES.gateway };
  const e1 = c.engines.gpu1;
  const e2 = c.engines.gpu2;
  const allow = (cell: Cell, from: HostName, what: string, probe: Probe, check?: MatrixProbe["check"]): MatrixProbe => ({ cell, expect: "allowed", from, what, probe, ...(check ? { check } : {}) });
  const deny = (cell: Cell, from: HostName, what: string, probe: Probe, control: MatrixProbe["control"] = "open"): MatrixProbe => ({ cell, expect: "denied", from, what, probe, control });
  const dnsUdp = (to: HostName): Probe => ({ kind: "dns-udp", host: a(to), name: "example.com", timeoutMs: DENY_TIMEOUT_MS });
  const dnsTcp = (to: HostName): Probe => ({ kind: "dns-tcp", host: a(to), name: "example.com", timeoutMs: DENY_TIMEOUT_MS });
  const D = DENY_TIMEOUT_MS;
  return [
    allow(CELLS.clients, "client", `GET ${gw}/healthz (TLS, verified)`, { kind: "http", url: `${gw}/healthz`, ...tls, timeoutMs: ALLOW_TIMEOUT_MS }, status200),
    deny(CELLS.clients, "client", `tcp ${e1.host}:${e1.port} (an engine)`, tcp(e1.host, e1.port, D)),
    deny(CELLS.clients, "client", `tcp ${a("scheduler")}:${PORTS.schedulerApi} (scheduler API)`, tcp(a("scheduler"), PORTS.schedulerApi, D)),
    deny(CELLS.clients, "client", `tcp ${a("scheduler")}:${PORTS.redis} (Redis)`, tcp(a("scheduler"), PORTS.redis, D)),
    deny(CELLS.clients, "client", `dns/udp ${a("gateway")}:53 (the gateway host, not its listener)`, dnsUdp("gateway")),

    allow(CELLS.dmzInference, "gateway", `GET http://${e1.host}:${e1.port}/health (engine, gpu1)`, { kind: "http", url: `http://${e1.host}:${e1.port}/health`, timeoutMs: ALLOW_TIMEOUT_MS }, status200),
    allow(CELLS.dmzInference, "gateway", `GET http://${e2.host}:${e2.port}/health (engine, gpu2)`, { kind: "http", url: `http://${e2.host}:${e2.port}/health`, timeoutMs: ALLOW_TIMEOUT_MS }, status200),
    allow(CELLS.dmzInference, "gateway", `GET http://${a("scheduler")}:${PORTS.schedulerApi}/v1/routes (reader token)`, {
      kind: "http", url: `http://${a("scheduler")}:${PORTS.schedulerApi}/v1/routes`, headers: { authorization: `Bearer ${c.readerToken}` }, timeoutMs: ALLOW_TIMEOUT_MS,
    }, (r) => (r.status === 200 && (JSON.parse(r.body ?? "{}") as { entries?: unknown[] }).entries?.length === 2 ? null : `HTTP ${r.status}, ${r.body?.slice(0, 100)}`)),
    deny(CELLS.dmzInference, "gateway", `tcp ${a("scheduler")}:${PORTS.redis} (Redis)`, tcp(a("scheduler"), PORTS.redis, D)),
    deny(CELLS.dmzInference, "gateway", `tcp ${a("gpu1")}:${PORTS.agentMetrics} (node-agent)`, tcp(a("gpu1"), PORTS.agentMetrics, D)),
    deny(CELLS.dmzInference, "gateway", `tcp ${a("scheduler")}:${PORTS.schedulerMetrics} (scheduler metrics: logging's only)`, tcp(a("scheduler"), PORTS.schedulerMetrics, D)),
    deny(CELLS.dmzInference, "gateway", `tcp ${a("gpu2")}:${PORTS.agentMetrics} (node-agent)`, tcp(a("gpu2"), PORTS.agentMetrics, D)),

    allow(CELLS.dmzLogging, "gateway", `tcp ${a("logs")}:${PORTS.auditSink} (audit sink)`, tcp(a("logs"), PORTS.auditSink, ALLOW_TIMEOUT_MS)),
    deny(CELLS.dmzLogging, "gateway", `tcp ${a("logs")}:${PORTS.prometheus} (Prometheus)`, tcp(a("logs"), PORTS.prometheus, D)),
    deny(CELLS.dmzLogging, "gateway", `dns/udp ${a("logs")}:53`, dnsUdp("logs")),

    allow(CELLS.schedulerLogging, "scheduler", `tcp ${a("logs")}:${PORTS.auditSink} (audit sink)`, tcp(a("logs"), PORTS.auditSink, ALLOW_TIMEOUT_MS)),
    deny(CELLS.schedulerLogging, "gpu1", `tcp ${a("logs")}:${PORTS.auditSink} (a GPU node is not the scheduler host)`, tcp(a("logs"), PORTS.auditSink, D)),
    deny(CELLS.schedulerLogging, "scheduler", `tcp ${a("logs")}:${PORTS.prometheus} (Prometheus)`, tcp(a("logs"), PORTS.prometheus, D)),

    allow(CELLS.prometheus, "logs", `GET http://${a("gpu1")}:${PORTS.agentMetrics}/metrics`, { kind: "http", url: `http://${a("gpu1")}:${PORTS.agentMetrics}/metrics`, timeoutMs: ALLOW_TIMEOUT_MS }, status200),
    allow(CELLS.prometheus, "logs", `GET http://${a("gpu2")}:${PORTS.agentMetrics}/metrics`, { kind: "http", url: `http://${a("gpu2")}:${PORTS.agentMetrics}/metrics`, timeoutMs: ALLOW_TIMEOUT_MS }, status200),
    allow(CELLS.prometheus, "logs", `GET http://${a("scheduler")}:${PORTS.schedulerMetrics}/metrics (metrics-only listener)`, { kind: "http", url: `http://${a("scheduler")}:${PORTS.schedulerMetrics}/metrics`, timeoutMs: ALLOW_TIMEOUT_MS }, status200),
    allow(CELLS.prometheus, "logs", `GET ${gw}/metrics (TLS)`, { kind: "http", url: `${gw}/metrics`, ...tls, timeoutMs: ALLOW_TIMEOUT_MS }, status200),
    deny(CELLS.prometheus, "logs", `tcp ${a("scheduler")}:${PORTS.schedulerApi} (scheduler API)`, tcp(a("scheduler"), PORTS.schedulerApi, D)),
    deny(CELLS.prometheus, "logs", `tcp ${a("scheduler")}:${PORTS.redis} (Redis)`, tcp(a("scheduler"), PORTS.redis, D)),
    deny(CELLS.prometheus, "logs", `tcp ${e1.host}:${e1.port} (an engine)`, tcp(e1.host, e1.port, D)),
    deny(CELLS.prometheus, "logs", `dns/udp ${a("gateway")}:53 (dmz, not the gateway's listener)`, dnsUdp("gateway")),

    allow(CELLS.gpuEgress, "gpu1", `GET http://${a("scheduler")}:${PORTS.schedulerApi}/healthz (inside inference)`, { kind: "http", url: `http://${a("scheduler")}:${PORTS.schedulerApi}/healthz`, timeoutMs: ALLOW_TIMEOUT_MS }, status200),
    allow(CELLS.gpuEgress, "gpu2", `tcp ${a("scheduler")}:${PORTS.redis} (inside inference)`, tcp(a("scheduler"), PORTS.redis, ALLOW_TIMEOUT_MS)),
    deny(CELLS.gpuEgress, "gpu1", `tcp ${a("gateway")}:${PORTS.gateway} (dmz)`, tcp(a("gateway"), PORTS.gateway, D)),
    deny(CELLS.gpuEgress, "gpu1", `dns/udp ${a("gateway")}:53 (dmz)`, dnsUdp("gateway")),
    deny(CELLS.gpuEgress, "gpu2", `tcp ${a("logs")}:${PORTS.auditSink} (logging)`, tcp(a("logs"), PORTS.auditSink, D)),
    deny(CELLS.gpuEgress, "gpu2", `dns/udp ${a("logs")}:53 (logging)`, dnsUdp("logs")),
    deny(CELLS.gpuEgress, "gpu1", `tcp ${a("internet")}:443 (outside)`, tcp(a("internet"), 443, D)),
    deny(CELLS.gpuEgress, "gpu1", `dns/udp ${a("internet")}:53 (outside DNS)`, dnsUdp("internet")),
    deny(CELLS.gpuEgress, "gpu2", `dns/tcp ${a("internet")}:53 (outside DNS)`, dnsTcp("internet")),
    deny(CELLS.gpuEgress, "gpu2", `tcp ${a("client")}:443 (a client)`, tcp(a("client"), 443, D)),
    deny(CELLS.gpuEgress, "gpu1", `tcp ${routerAddress("inference")}:22 (the router itself)`, tcp(routerAddress("inference"), 22, D), "refused"),

    allow(CELLS.inferenceDmz, "gateway", `GET http://${e2.host}:${e2.port}/v1/models (dmz-initiated: the reply comes back)`, { kind: "http", url: `http://${e2.host}:${e2.port}/v1/models`, timeoutMs: ALLOW_TIMEOUT_MS }, status200),
    deny(CELLS.inferenceDmz, "scheduler", `tcp ${a("gateway")}:${PORTS.gateway} (gateway listener)`, tcp(a("gateway"), PORTS.gateway, D)),
    deny(CELLS.inferenceDmz, "scheduler", `dns/udp ${a("gateway")}:53`, dnsUdp("gateway")),
    deny(CELLS.inferenceDmz, "gpu2", `tcp ${a("gateway")}:${PORTS.gateway} (gateway listener)`, tcp(a("gateway"), PORTS.gateway, D)),

    allow(CELLS.otherwise, "client", `dns/udp ${a("internet")}:53 (outside to outside: not routed)`, { kind: "dns-udp", host: a("internet"), name: "example.com", timeoutMs: ALLOW_TIMEOUT_MS }),
    deny(CELLS.otherwise, "gateway", `tcp ${a("internet")}:443 (dmz → outside)`, tcp(a("internet"), 443, D)),
    deny(CELLS.otherwise, "gateway", `dns/udp ${a("internet")}:53 (dmz → outside DNS)`, dnsUdp("internet")),
    deny(CELLS.otherwise, "logs", `tcp ${a("internet")}:443 (logging → outside)`, tcp(a("internet"), 443, D)),
    deny(CELLS.otherwise, "scheduler", `tcp ${a("internet")}:443 (scheduler host → outside)`, tcp(a("internet"), 443, D)),
    deny(CELLS.otherwise, "scheduler", `dns/udp ${a("internet")}:53 (scheduler host → outside DNS)`, dnsUdp("internet")),
    deny(CELLS.otherwise, "client", `tcp ${a("logs")}:${PORTS.auditSink} (outside → logging)`, tcp(a("logs"), PORTS.auditSink, D)),
    deny(CELLS.otherwise, "client", `tcp ${a("gpu1")}:${PORTS.agentMetrics} (outside → node-agent)`, tcp(a("gpu1"), PORTS.agentMetrics, D)),
    deny(CELLS.otherwise, "client", `tcp ${routerAddress("outside")}:22 (the router itself)`, tcp(routerAddress("outside"), 22, D), "refused"),
  ];
}

/** null when the result is what the matrix says, else why not. */
export function verdict(p: MatrixProbe, r: ProbeResult): string | null {
  if (p.expect === "allowed") return r.outcome === "open" ? (p.check?.(r) ?? null) : `${r.outcome}: ${r.detail}`;
  // The router drops (policy drop, no reject): a denied flow gets no answer at all.
  return r.outcome === "timeout" ? null : `got ${r.outcome} (${r.detail}), expected no answer`;
}

/** Without the router's table (forwarding on, nothing filtered) a denied probe must get through. */
export function controlVerdict(p: MatrixProbe, r: ProbeResult): string | null {
  const want = p.control ?? "open";
  return r.outcome === want ? null : `got ${r.outcome} (${r.detail}) without the firewall, expected ${want}: the probe does not show the firewall denies it`;
}

export interface ReportRow {
  cell: string;
  expect: "allowed" | "denied";
  from: string;
  probe: string;
  result: string;
  /** Denied probes: what the same probe got with the router's table removed. */
  control: string;
  pass: boolean;
  why?: string | undefined;
}

export function formatReport(rows: readonly ReportRow[], header: string[]): string {
  const cols = [
    ["cell", (r: ReportRow) => r.cell],
    ["expect", (r: ReportRow) => r.expect],
    ["from", (r: ReportRow) => r.from],
    ["probe", (r: ReportRow) => r.probe],
    ["result", (r: ReportRow) => r.result],
    ["no firewall", (r: ReportRow) => r.control],
    ["", (r: ReportRow) => (r.pass ? "PASS" : `FAIL ${r.why ?? ""}`)],
  ] as const;
  const widths = cols.map(([h, f]) => Math.min(72, Math.max(h.length, ...rows.map((r) => f(r).length))));
  const line = (cells: string[]) => cells.map((c, i) => (i === cells.length - 1 ? c : c.padEnd(widths[i]!))).join("  ").trimEnd();
  const out = [...header, line(cols.map(([h]) => h)), line(widths.map((w) => "-".repeat(w)))];
  let last = "";
  for (const r of rows) {
    out.push(line(cols.map(([, f], i) => (i === 0 && r.cell === last ? "" : f(r)))));
    last = r.cell;
  }
  const failed = rows.filter((r) => !r.pass).length;
  out.push(`${rows.length} checks, ${rows.length - failed} passed, ${failed} failed`);
  return out.join("\n");
}

/** A probe result in a few words. */
export function describeResult(r: ProbeResult): string {
  if (r.outcome === "open") return r.status !== undefined ? `HTTP ${r.status}` : r.detail;
  return r.outcome === "timeout" ? "no answer (dropped)" : `${r.outcome} ${r.detail}`;
}

/**
 * The segments of DESIGN §1, proven on real network stacks: network namespaces for the
 * outside (clients, the internet), the DMZ (gateway), the inference segment (scheduler host,
 * two GPU nodes) and the logging segment (rsyslog, Prometheus), a router namespace between
 * them running the nftables ruleset the Ansible firewall role renders from the flow matrix, and
 * the real processes in each. Every cell of the matrix is probed both ways, a chat completion
 * goes from outside to an engine and its audit record to logging, and a negative control shows
 * the router's table (not the routing) is what denies. Prints a report; docs/topology.md maps
 * it to the design.
 *
 * Needs root (network namespaces) and the packages of `scripts/setup.sh --test`. Skipped, with
 * the reason, only where network namespaces cannot be created.
 */
import assert from "node:assert/strict";
import { execFile } from "node:child_process";
import { mkdtempSync, readFileSync, readdirSync, rmSync } from "node:fs";
import { mkdir, readFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { test } from "node:test";
import { promisify } from "node:util";
import { decodeAuditLine } from "@enclave/audit";
import { AuditRecord, RouteTable } from "@enclave/contracts";
import { waitFor } from "@enclave/runtime";
import { CLI } from "../support/stack.js";
import { CELLS, controlVerdict, describeResult, formatReport, matrixProbes, verdict, type MatrixProbe, type ReportRow } from "./matrix.js";
import { NetProbe, startIn, type NsProcess } from "./processes.js";
import type { Probe, ProbeResult } from "./probe-protocol.js";
import { renderRouterRuleset, type RenderedRuleset } from "./router-ruleset.js";
import { EMITTERS, GPU_NODES, MODEL, NAMES, PORTS, REGION, makeSecrets, writeConfigs, writePrometheusConfig, writeRsyslogConfig, type Secrets } from "./services.js";
import { HOSTS, Topology, deleteNamespace, host, namespacesUnavailable, runGone, staleNamespaces, type HostName } from "./topology.js";

const run = promisify(execFile);
const unavailable = await namespacesUnavailable();

interface Stack {
  /** Everything started in the background, settled before teardown; aborting stops it. */
  pending: Promise<unknown>[];
  abort: AbortController;
  dir: string;
  logDir: string;
  topo: Topology;
  secrets: Secrets;
  ruleset: RenderedRuleset;
  probes: Record<HostName, NetProbe>;
  procs: NsProcess[];
  auditLog: string;
  routes: RouteTable;
  engines: Record<"gpu1" | "gpu2", { host: string; port: number }>;
  timings: Record<string, number>;
}

const a = (h: HostName) => host(h).address;

/** Waits for a process's own readiness from inside its namespace; fails early, with its log, if it exits. */
async function ready(p: NsProcess, probe: NetProbe, check: Probe, what: string, ok: (r: ProbeResult) => boolean = (r) => r.outcome === "open" && (r.status === undefined || r.status === 200)): Promise<void> {
  await waitFor(
    async () => {
      if (p.exited()) throw new Error(`${p.name} exited: ${p.tail().slice(-2000)}`);
      return ok(await probe.one(check));
    },
    { timeoutMs: 30_000, intervalMs: 100, what },
  ).catch((e: Error) => {
    throw new Error(`${e.message}\n--- ${p.name} log\n${p.tail().slice(-3000)}`);
  });
}

async function setUp(stack: Partial<Stack>): Promise<Stack> {
  const t0 = Date.now();
  const timings: Record<string, number> = {};
  const mark = (k: string) => (timings[k] = Date.now() - t0);
  // Leftovers of runs that crashed (SIGKILL, a power cut) go first; live runs are never touched.
  for (const ns of await staleNamespaces()) await deleteNamespace(ns);
  for (const d of readdirSync(tmpdir())) {
    const m = /^enclave-segments-(\d+)-/.exec(d);
    if (m && runGone(Number(m[1]))) rmSync(join(tmpdir(), d), { recursive: true, force: true });
  }
  const dir = (stack.dir = mkdtempSync(join(tmpdir(), `enclave-segments-${process.pid}-`)));
  const logDir = (stack.logDir = join(dir, "logs"));
  await mkdir(logDir);
  const topo = (stack.topo = new Topology());
  const procs: NsProcess[] = (stack.procs = []);

  // The slow part (Ansible) runs while everything else starts; forwarding stays off until its ruleset is loaded.
  const rendering = renderRouterRuleset(dir, stack.abort!.signal);
  stack.pending!.push(rendering);
  const [secrets] = await all([makeSecrets(dir), topo.up()]);
  mark("namespaces and PKI");
  const [files, rsyslog, prometheus] = await all([writeConfigs(dir, secrets), writeRsyslogConfig(dir, secrets), writePrometheusConfig(dir, secrets)]);
  stack.auditLog = rsyslog.output;

  const probes = (stack.probes = {} as Record<HostName, NetProbe>);
  await all(HOSTS.map(async (h) => (probes[h.name] = await NetProbe.start(topo.ns(h.name), h.name, logDir))));
  // Listeners behind the denied probes: a service on each side that nothing in the matrix may reach.
  await all([
    probes.internet.serve({ tcp: [443], dnsAnswer: a("internet") }),
    probes.client.serve({ tcp: [443] }),
    probes.gateway.serve({ dnsAnswer: a("gateway") }),
    probes.logs.serve({ dnsAnswer: a("logs") }),
  ]);

  const start = (h: HostName, name: string, cmd: string, args: string[], env?: NodeJS.ProcessEnv) => {
    const p = startIn(topo.ns(h), name, cmd, args, { logDir, ...(env ? { env } : {}) });
    procs.push(p);
    return p;
  };
  const redis = start("scheduler", "redis", "redis-server", ["--bind", a("scheduler"), "--port", String(PORTS.redis), "--save", "", "--appendonly", "no", "--dir", dir, "--protected-mode", "no"]);
  const syslog = start("logs", "rsyslogd", "rsyslogd", ["-n", "-f", rsyslog.conf, "-i", rsyslog.pidFile]);
  start("logs", "prometheus", "prometheus", [`--config.file=${prometheus.conf}`, `--storage.tsdb.path=${prometheus.data}`, `--web.listen-address=${a("logs")}:${PORTS.prometheus}`, "--log.level=warn"]);
  await ready(redis, probes.scheduler, { kind: "tcp", host: a("scheduler"), port: PORTS.redis, timeoutMs: 1000 }, "redis-server");
  const scheduler = start("scheduler", "scheduler", process.execPath, [CLI, "scheduler", "--config", files.scheduler]);
  const agents = GPU_NODES.map((n) => start(n, `agent-${n}`, process.execPath, [CLI, "agent", "--config", files.agents[n]!]));
  await ready(syslog, probes.logs, { kind: "tcp", host: a("logs"), port: PORTS.auditSink, timeoutMs: 1000 }, "rsyslogd listening");
  await ready(scheduler, probes.scheduler, { kind: "http", url: `http://${a("scheduler")}:${PORTS.schedulerApi}/healthz`, timeoutMs: 2000 }, "the scheduler");
  await all(agents.map((p, i) => ready(p, probes[GPU_NODES[i]!], { kind: "http", url: `http://${a(GPU_NODES[i]!)}:${PORTS.agentMetrics}/healthz`, timeoutMs: 2000 }, `agent ${GPU_NODES[i]}`)));
  mark("inference and logging up");

  // The operator action: `enclave deploy apply` on the scheduler host, as an operator would run it.
  const env = { ...process.env, ENCLAVE_SCHEDULER_URL: `http://${a("scheduler")}:${PORTS.schedulerApi}`, ENCLAVE_TOKEN_FILE: secrets.files.operatorToken };
  const deploy = await run("ip", ["netns", "exec", topo.ns("scheduler"), process.execPath, CLI, "deploy", "apply", "-f", files.deployment], { env, timeout: 30_000 });
  assert.match(deploy.stdout, /deployment llama-8b created/);

  const ruleset = (stack.ruleset = await rendering);
  mark("router ruleset rendered (ansible)");
  await topo.loadRuleset(ruleset.file);
  await topo.enableForwarding(true);

  const gateway = start("gateway", "gateway", process.execPath, [CLI, "gateway", "--config", files.gateway]);
  const https = { ca: readFileSync(secrets.pki.ca, "utf8"), servername: NAMES.gateway };
  await ready(gateway, probes.gateway, { kind: "http", url: `https://${a("gateway")}:${PORTS.gateway}/healthz`, ...https, timeoutMs: 2000 }, "the gateway");
  // Serving: both replicas ready in the route table, and the gateway holds that table.
  const routes = (stack.routes = await waitFor(
    async () => {
      const r = await probes.gateway.one({ kind: "http", url: `http://${a("scheduler")}:${PORTS.schedulerApi}/v1/routes`, headers: { authorization: `Bearer ${secrets.tokens.reader}` }, timeoutMs: 3000 });
      const table = r.status === 200 ? RouteTable.parse(JSON.parse(r.body!)) : null;
      return table && table.entries.length === 2 && new Set(table.entries.map((e) => e.nodeId)).size === 2 ? table : undefined;
    },
    { timeoutMs: 60_000, intervalMs: 200, what: "two ready engines, one per GPU node" },
  ));
  await waitFor(
    async () => {
      const r = await probes.gateway.one({ kind: "http", url: `https://${a("gateway")}:${PORTS.gateway}/metrics`, ...https, timeoutMs: 3000 });
      const m = /^enclave_gateway_route_table_version(?:\{[^}]*\})? (\S+)$/m.exec(r.body ?? "");
      return m !== null && Number(m[1]) >= routes.version;
    },
    { timeoutMs: 30_000, intervalMs: 200, what: "the gateway to hold the route table" },
  );
  mark("serving");
  const engines = Object.fromEntries(
    routes.entries.map((e) => {
      const u = new URL(e.url);
      return [e.nodeId, { host: u.hostname, port: Number(u.port) }];
    }),
  ) as Stack["engines"];
  return Object.assign(stack, { secrets, engines, timings }) as Stack;
}

/** Promise.all that lets every step finish (or fail) before it rejects: nothing half-started is left running into the teardown. */
async function all<T extends readonly unknown[]>(steps: [...{ [K in keyof T]: Promise<T[K]> }]): Promise<T> {
  const settled = await Promise.allSettled(steps);
  const failed = settled.find((r) => r.status === "rejected");
  if (failed) throw (failed as PromiseRejectedResult).reason;
  return settled.map((r) => (r as PromiseFulfilledResult<unknown>).value) as unknown as T;
}

async function tearDown(stack: Partial<Stack>): Promise<void> {
  stack.abort?.abort();
  await Promise.allSettled(stack.pending ?? []);
  const procs = stack.procs ?? [];
  // Emitters first (they drain their audit spools to the still-running receiver), then the rest.
  const first = procs.filter((p) => /^(gateway|scheduler|agent-)/.test(p.name));
  await Promise.all(first.map((p) => p.stop(8000)));
  await Promise.all(procs.filter((p) => !first.includes(p)).map((p) => p.stop(3000)));
  await Promise.all(Object.values(stack.probes ?? {}).map((p) => p.stop()));
  // Whatever is left (engines of a killed agent) dies with its namespace.
  await stack.topo?.down();
  if (stack.dir) rmSync(stack.dir, { recursive: true, force: true });
}

/** Runs the probes, each from its own namespace, all at once. */
async function runAll(probes: Record<HostName, NetProbe>, list: readonly MatrixProbe[]): Promise<ProbeResult[]> {
  const out: ProbeResult[] = new Array(list.length);
  const bySource = new Map<HostName, number[]>();
  list.forEach((p, i) => bySource.set(p.from, [...(bySource.get(p.from) ?? []), i]));
  await Promise.all(
    [...bySource].map(async ([from, idx]) => {
      const results = await probes[from].probe(idx.map((i) => list[i]!.probe));
      idx.forEach((i, k) => (out[i] = results[k]!));
    }),
  );
  return out;
}

/** Stored syslog lines as audit entries (records and checkpoints). */
function entries(lines: string[]): Record<string, unknown>[] {
  return lines.flatMap((l) => {
    const d = decodeAuditLine(l);
    return d.kind === "entry" ? [d.value as Record<string, unknown>] : [];
  });
}

async function auditLines(file: string): Promise<string[]> {
  return (await readFile(file, "utf8").catch(() => "")).split("\n").filter((l) => l !== "");
}

test("the segments: DESIGN §1's flow matrix on real network stacks, with the firewall role's router ruleset", { skip: unavailable ?? false, timeout: 240_000 }, async (t) => {
  const started = Date.now();
  const stack: Partial<Stack> = { pending: [], abort: new AbortController() };
  const rows: ReportRow[] = [];
  const counters: { before?: Record<string, number>; after?: Record<string, number> } = {};
  t.after(async () => {
    const namespaces = stack.topo ? await stack.topo.namespaces() : [];
    const header = [
      "segments report: DESIGN §1's flow matrix, probed in network namespaces",
      `hosts: ${HOSTS.map((h) => `${h.name} ${h.address} (${h.segment})`).join(", ")}`,
      stack.ruleset ? `router ruleset: ${stack.ruleset.command}` : "router ruleset: not rendered",
      stack.ruleset ? `  sha256 ${stack.ruleset.sha256}, rendered in ${(stack.ruleset.ms / 1000).toFixed(1)} s; denied = dropped by the router (policy drop, no answer within 1.5 s)` : "",
      stack.timings ? `setup: ${Object.entries(stack.timings).map(([k, v]) => `${k} ${(v / 1000).toFixed(1)} s`).join(", ")}` : "",
      counters.before && counters.after
        ? `router counters (packets during the probes): ${Object.keys(counters.after).map((k) => `${k} +${(counters.after![k] ?? 0) - (counters.before![k] ?? 0)}`).join(", ")}`
        : "",
    ].filter(Boolean);
    // Grouped by the matrix's rows, in DESIGN §1's order (the end-to-end evidence next to its row's probes).
    const order: string[] = Object.values(CELLS);
    const report = formatReport([...rows].sort((x, y) => order.indexOf(x.cell) - order.indexOf(y.cell)), header);
    // Node 20's TestContext has no `passed`: a failed row (or a setup that never finished) is the signal.
    const failed = rows.some((r) => !r.pass) || stack.routes === undefined;
    if (failed && stack.procs) for (const p of stack.procs) console.log(`--- ${p.name} (last lines)\n${p.tail().slice(-1500)}`.replace(/^/gm, "# "));
    await tearDown(stack);
    const left = stack.topo ? await stack.topo.namespaces() : [];
    console.log(`${report}\nnamespaces during the run: ${namespaces.length}, left after teardown: ${left.length}; total ${((Date.now() - started) / 1000).toFixed(1)} s`.replace(/^/gm, "# "));
    assert.deepEqual(left, [], "teardown leaves no namespace behind");
  });

  // A test runner that is stopped (Ctrl-C, a timeout) still takes the namespaces down.
  const onSignal = (sig: NodeJS.Signals) => {
    void tearDown(stack).finally(() => process.kill(process.pid, sig));
  };
  process.once("SIGINT", onSignal);
  process.once("SIGTERM", onSignal);
  t.after(() => {
    process.off("SIGINT", onSignal);
    process.off("SIGTERM", onSignal);
  });
  const s = await setUp(stack);
  const https = { ca: readFileSync(s.secrets.pki.ca, "utf8"), servername: NAMES.gateway };
  const list = matrixProbes({ engines: s.engines, ca: https.ca, readerToken: s.secrets.tokens.reader });
  const denied = list.filter((p) => p.expect === "denied");
  const rowOf = new Map<MatrixProbe, ReportRow>();

  await t.test("every cell of the flow matrix: allowed flows work, denied flows are dropped by the router", async () => {
    counters.before = await s.topo.counters();
    const results = await runAll(s.probes, list);
    counters.after = await s.topo.counters();
    list.forEach((p, i) => {
      const why = verdict(p, results[i]!);
      const row: ReportRow = { cell: p.cell, expect: p.expect, from: p.from, probe: p.what, result: describeResult(results[i]!), control: p.expect === "denied" ? "(pending)" : "-", pass: why === null, why: why ?? undefined };
      rows.push(row);
      rowOf.set(p, row);
    });
    const failures = rows.filter((r) => !r.pass).map((r) => `${r.cell} | ${r.from} | ${r.probe}: ${r.why}`);
    assert.deepEqual(failures, []);
    for (const cell of Object.values(CELLS)) {
      assert.ok(list.some((p) => p.cell === cell && p.expect === "allowed"), `${cell} has an allowed probe`);
      assert.ok(list.some((p) => p.cell === cell && p.expect === "denied"), `${cell} has a denied probe`);
    }
  });

  await t.test("the router's named counters show which rows of the matrix dropped the denied probes", () => {
    const delta = (k: string) => (counters.after?.[k] ?? 0) - (counters.before?.[k] ?? 0);
    for (const k of ["deny_inference_to_dmz", "deny_gpu_nodes_egress", "default_deny_forward", "default_deny_input"]) assert.ok(delta(k) > 0, `${k} counted drops`);
    const total = Object.keys(counters.after ?? {}).reduce((n, k) => n + delta(k), 0);
    assert.ok(total >= denied.length, `${total} dropped packets for ${denied.length} denied probes`);
  });

  const prompt = `segments-${process.pid}: what is the capital of France?`;
  let backend = "";
  await t.test("a chat completion from outside goes through the gateway (TLS) to an engine in the inference segment", async () => {
    const r = await s.probes.client.one({
      kind: "http", method: "POST", url: `https://${a("gateway")}:${PORTS.gateway}/v1/chat/completions`, ...https, timeoutMs: 15_000,
      headers: { authorization: `Bearer ${s.secrets.tokens.apiKey}`, "content-type": "application/json" },
      body: JSON.stringify({ model: MODEL, messages: [{ role: "user", content: prompt }] }),
    });
    backend = r.headers?.["x-enclave-backend"] ?? "";
    const body = r.status === 200 ? (JSON.parse(r.body!) as { choices: { message: { content: string } }[] }) : null;
    const entry = s.routes.entries.find((e) => e.backendId === backend);
    const ok = r.status === 200 && r.headers?.["x-enclave-region"] === REGION && entry !== undefined && (body?.choices[0]?.message.content ?? "").length > 0;
    rows.push({ cell: CELLS.clients, expect: "allowed", from: "client", probe: `POST /v1/chat/completions (end to end)`, result: r.status === 200 ? `HTTP 200 from ${entry?.url ?? backend}` : describeResult(r), control: "-", pass: ok });
    assert.equal(r.status, 200, r.body);
    assert.equal(r.headers?.["x-enclave-region"], REGION);
    assert.ok(entry, `backend ${backend} is in the route table`);
    assert.ok(body!.choices[0]!.message.content.length > 0);
  });

  await t.test("its audit record, and the scheduler's record of the operator action, arrive in logging over mutual TLS and verify with `enclave audit verify`", async () => {
    // Each chain sealed by a checkpoint after its records, so --sealed can prove nothing was cut.
    let seen = "nothing stored yet";
    const stored = await waitFor(
      async () => {
        const es = entries(await auditLines(s.auditLog));
        const chat = es.find((e) => e.emitter === EMITTERS.gateway && e.action === "chat.completions" && e.backendId === backend);
        const op = es.find((e) => e.emitter === EMITTERS.scheduler && e.action === "deployment.apply");
        const last = (emitter: string) => es.filter((e) => e.emitter === emitter).at(-1);
        const sealed = (emitter: string) => last(emitter)?.kind === "checkpoint";
        const tail = (emitter: string) => `${emitter} ends with ${last(emitter)?.kind ?? "nothing"} seq ${String(last(emitter)?.seq ?? "-")}`;
        seen = `${es.length} entries; chat record ${chat ? "stored" : "missing"}; deployment record ${op ? "stored" : "missing"}; ${tail(EMITTERS.gateway)}; ${tail(EMITTERS.scheduler)}`;
        return chat && op && sealed(EMITTERS.gateway) && sealed(EMITTERS.scheduler) ? { chat: AuditRecord.parse(chat), op: AuditRecord.parse(op) } : undefined;
      },
      { timeoutMs: 30_000, intervalMs: 200, what: "the chat's and the deployment's records, each chain sealed, in logging" },
    ).catch((e: Error) => {
      rows.push({ cell: CELLS.dmzLogging, expect: "allowed", from: "gateway", probe: "the chat's audit record stored in logging", result: "not stored", control: "-", pass: false, why: `${e.message} (${seen})` });
      throw new Error(`${e.message}: ${seen}`);
    });
    rows.push({ cell: CELLS.dmzLogging, expect: "allowed", from: "gateway", probe: "the chat's audit record stored in logging", result: `seq ${stored.chat.seq}, ${stored.chat.decision}, ${stored.chat.status}`, control: "-", pass: stored.chat.status === 200 && stored.chat.tenant === "acme" && stored.chat.region === REGION });
    rows.push({ cell: CELLS.schedulerLogging, expect: "allowed", from: "scheduler", probe: "`enclave deploy apply`'s operator record stored in logging", result: `${stored.op.principal}, ${stored.op.status}`, control: "-", pass: stored.op.principal === "ops-alice" && stored.op.status === 201 && stored.op.model === MODEL });
    assert.deepEqual([stored.chat.status, stored.chat.decision, stored.chat.tenant, stored.chat.region, stored.chat.chain], [200, "routed", "acme", REGION, REGION]);
    assert.deepEqual([stored.op.principal, stored.op.status, stored.op.decision, stored.op.model, stored.op.chain], ["ops-alice", 201, "operator", MODEL, REGION]);

    const verify = await run("ip", ["netns", "exec", s.topo.ns("logs"), process.execPath, CLI, "audit", "verify",
      "--public-key", s.secrets.checkpoint.gateway.publicKey, "--public-key", s.secrets.checkpoint.scheduler.publicKey, "--sealed", s.auditLog], { timeout: 30_000 }).catch((e: Error & { stdout?: string }) => ({ stdout: e.stdout ?? e.message }));
    const ok = /: ok, \d+ records/.test(verify.stdout);
    rows.push({ cell: CELLS.dmzLogging, expect: "allowed", from: "logs", probe: "enclave audit verify --sealed (both chains, signatures)", result: verify.stdout.split("\n")[0]!.replace(s.auditLog, "audit.log"), control: "-", pass: ok });
    assert.ok(ok, verify.stdout);
    // Content mode none: the prompt reached the engine, never logging (nor the control plane).
    assert.ok(!readFileSync(s.auditLog, "utf8").includes(prompt), "the prompt is not in the audit store");
    const scheduler = s.procs.find((p) => p.name === "scheduler")!;
    assert.ok(!readFileSync(scheduler.logFile, "utf8").includes(prompt), "nor in the scheduler's log");
  });

  await t.test("Prometheus in logging scrapes the agents, the scheduler's metrics port and the gateway, and nothing on the scheduler's API port", async () => {
    const up = await waitFor(
      async () => {
        const r = await s.probes.logs.one({ kind: "http", url: `http://${a("logs")}:${PORTS.prometheus}/api/v1/query?query=up`, timeoutMs: 3000 });
        const res = (JSON.parse(r.body ?? "{}") as { data?: { result: { metric: { job: string; instance: string }; value: [number, string] }[] } }).data?.result ?? [];
        const by = new Map(res.map((x) => [`${x.metric.job} ${x.metric.instance}`, x.value[1]]));
        const want = [...GPU_NODES.map((n) => `node-agent ${a(n)}:${PORTS.agentMetrics}`), `scheduler ${a("scheduler")}:${PORTS.schedulerMetrics}`, `gateway ${a("gateway")}:${PORTS.gateway}`];
        return want.every((k) => by.get(k) === "1") && by.get(`scheduler-not-in-the-matrix ${a("scheduler")}:${PORTS.schedulerApi}`) === "0" ? by : undefined;
      },
      { timeoutMs: 30_000, intervalMs: 500, what: "Prometheus: up=1 for both agents, the scheduler's metrics port and the gateway, up=0 for the scheduler's API port" },
    ).catch((e: Error) => {
      rows.push({ cell: CELLS.prometheus, expect: "allowed", from: "logs", probe: "Prometheus up{job=node-agent|scheduler|gateway}", result: "not up", control: "-", pass: false, why: e.message });
      throw e;
    });
    rows.push({ cell: CELLS.prometheus, expect: "allowed", from: "logs", probe: "Prometheus scrape: up{job=node-agent} gpu1, gpu2; up{job=scheduler} :9401; up{job=gateway}", result: "up = 1, 1, 1, 1", control: "-", pass: true });
    rows.push({ cell: CELLS.prometheus, expect: "denied", from: "logs", probe: "Prometheus scrape: up{job=scheduler-not-in-the-matrix}", result: `up = ${up.get(`scheduler-not-in-the-matrix ${a("scheduler")}:${PORTS.schedulerApi}`)}`, control: "-", pass: true });
  });

  await t.test("negative control: without the router's table every denied probe gets through, so the firewall is what denies", async () => {
    await s.topo.dropEnclaveTable();
    assert.doesNotMatch(await s.topo.routerRuleset(), /table inet enclave/);
    const results = await runAll(s.probes, denied);
    const failures: string[] = [];
    denied.forEach((p, i) => {
      const why = controlVerdict(p, results[i]!);
      const row = rowOf.get(p)!;
      row.control = describeResult(results[i]!);
      if (why !== null) {
        row.pass = false;
        row.why = why;
        failures.push(`${p.cell} | ${p.from} | ${p.what}: ${why}`);
      }
    });
    assert.deepEqual(failures, []);
  });
});

/**
 * The dashboards and alerts against a real Prometheus: `enclave up` (scheduler, two agents
 * with simulated GPUs and engines, gateway), plus a second gateway whose tenants redact,
 * rate-limit and fail closed and whose audit ships to one working and one failing HTTP sink,
 * and an agent outside the fleet that reads a real BMC (OpenIPMI's ipmi_sim). Prometheus
 * (Debian's) scrapes every process from a generated configuration and loads the committed
 * rule file. Every panel query of our dashboards and of NVIDIA's public DCGM dashboard runs
 * with its template variables substituted, every alert expression is evaluated, and an
 * uncorrectable ECC error injected into a simulated GPU makes the ECC alert return that GPU.
 */
import assert from "node:assert/strict";
import { spawn, type ChildProcess } from "node:child_process";
import { mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { createServer, type Server } from "node:http";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { after, before, describe, test } from "node:test";
import { ALERTS, DASHBOARDS, PACKAGE_DIR, RULE_FILE, dashboardJson, panelQueries, parseLabelValues, prometheusConfigYaml, substitute, variableQueries } from "@enclave/dashboards";
import { BmcSim, SIM_PASSWORD, SIM_USER } from "@enclave/node-agent/test-support/bmc-sim";
import { freePort, sha256Hex, stopChild, waitFor } from "@enclave/runtime";
import { CLI, startUp, type RunningStack } from "../support/stack.js";
import { startPrometheus, type RunningPrometheus } from "../support/prometheus.js";

const MODEL = "meta-llama/Llama-3.1-8B-Instruct";
/** What the test substitutes for Grafana's $__rate_interval: Prometheus scrapes every second, so a minute always holds samples. */
const RATE_INTERVAL = "1m";
/** NVIDIA's dashboard panels our agent cannot fill, and why. */
const DCGM_GAPS: Record<string, string> = {
  "Tensor Core Utilization": "DCGM_FI_PROF_PIPE_TENSOR_ACTIVE is a DCGM profiling counter; nvidia-smi, which the agent reads, has no tensor-pipe activity",
};

type Model = Parameters<typeof panelQueries>[0] & Parameters<typeof variableQueries>[0];

interface Extra {
  stop(): Promise<void>;
}

let stack: RunningStack;
let prom: RunningPrometheus;
const extras: Extra[] = [];
const dir = mkdtempSync(join(tmpdir(), "enclave-observability-"));
const keys = { eu: "sk-probe-eu-0123456789abcdef", us: "sk-probe-us-0123456789abcdef", nowhere: "sk-probe-nowhere-0123456789" };
let probeGateway: string;
let bmcNode: string;

function readJson<T>(path: string): T {
  return JSON.parse(readFileSync(path, "utf8")) as T;
}

function hostPort(url: string): string {
  return new URL(url).host;
}

/** `enclave agent|gateway --config FILE` as a child, its output in a log file; stopped with the rest. */
function launch(kind: string, config: unknown, env: NodeJS.ProcessEnv = {}): ChildProcess {
  const file = join(dir, `${kind}-${extras.length}.json`);
  writeFileSync(file, JSON.stringify(config, null, 2));
  const log = join(dir, `${kind}-${extras.length}.log`);
  const child = spawn(process.execPath, [CLI, kind, "--config", file], { stdio: ["ignore", "pipe", "pipe"], env: { ...process.env, ...env } });
  let out = "";
  const keep = (b: Buffer) => {
    out = (out + b.toString()).slice(-20_000);
    writeFileSync(log, out);
  };
  child.stdout!.on("data", keep);
  child.stderr!.on("data", keep);
  extras.push({ stop: () => stopChild(child, 10_000) });
  return child;
}

/** An HTTP audit sink (JSON lines, Loki-style) that acknowledges every batch with `status`. */
async function httpSink(status: number): Promise<string> {
  const server: Server = createServer((req, res) => {
    req.resume();
    req.on("end", () => res.writeHead(status).end());
  });
  await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
  extras.push({ stop: () => new Promise<void>((resolve) => server.close(() => resolve())) });
  const address = server.address();
  if (address === null || typeof address === "string") throw new Error("no sink address");
  return `http://127.0.0.1:${address.port}/audit`;
}

async function chat(base: string, key: string, content: string, model = MODEL): Promise<number> {
  const r = await fetch(`${base}/v1/chat/completions`, {
    method: "POST",
    headers: { authorization: `Bearer ${key}`, "content-type": "application/json" },
    body: JSON.stringify({ model, messages: [{ role: "user", content }] }),
    signal: AbortSignal.timeout(20_000),
  });
  await r.arrayBuffer();
  return r.status;
}

/** The gateway beside the local stack's: tenants that redact, hit a rate limit, or are allowed only where nothing runs. */
async function startProbeGateway(port: number): Promise<string> {
  const [euSink, usSink] = await Promise.all([httpSink(204), httpSink(503)]);
  const sink = (url: string) => ({ type: "http", url, timeoutMs: 2000, pollMs: 100, lingerMs: 0, backoff: { initialMs: 100, maxMs: 1000 } });
  const apiKey = (id: string, key: string) => [{ id, sha256: sha256Hex(key) }];
  launch("gateway", {
    id: "gateway-probe",
    homeRegion: "eu-central-1",
    listen: { host: "127.0.0.1", port, plaintext: true },
    logLevel: "warn",
    scheduler: { url: stack.scheduler, token: { file: join(stack.stateDir, "secrets", "gateway.token") }, watchTimeoutMs: 5000 },
    tenants: [
      { id: "probe-eu", regions: ["eu-central-1"], redact: ["email"], rateLimits: { requestsPerMinute: 3 }, apiKeys: apiKey("probe-eu-key", keys.eu) },
      { id: "probe-us", regions: ["us-east-1"], apiKeys: apiKey("probe-us-key", keys.us) },
      // A region no node is in: every request fails closed.
      { id: "probe-nowhere", regions: ["ap-south-1"], apiKeys: apiKey("probe-nowhere-key", keys.nowhere) },
    ],
    audit: {
      spool: { dir: join(dir, "probe-spool") },
      sinks: { "eu-central-1": sink(euSink), "us-east-1": sink(usSink), "ap-south-1": sink(euSink) },
    },
  });
  const url = `http://127.0.0.1:${port}`;
  await waitFor(async () => (await fetch(`${url}/readyz`, { signal: AbortSignal.timeout(2000) })).ok, { timeoutMs: 30_000, intervalMs: 100, what: "the probe gateway to be ready" });
  return url;
}

/** An agent outside the fleet (the scheduler refuses its heartbeats) that reads a real BMC: ipmi_sim over RMCP+. */
async function startBmcAgent(port: number): Promise<string> {
  const bmc = await BmcSim.start();
  extras.push({ stop: () => bmc.stop() });
  const fleetAgent = readJson<{ redis: { url: string } }>(join(stack.stateDir, "config", "agent-eu-node-1.yaml"));
  const tokenFile = join(dir, "bmc-node.token");
  writeFileSync(tokenFile, "not-a-token-of-this-fleet\n", { mode: 0o600 });
  launch(
    "agent",
    {
      nodeId: "bmc-node-1",
      region: "eu-central-1",
      jurisdiction: "EU",
      logLevel: "error",
      listen: { host: "127.0.0.1", port },
      scheduler: { url: stack.scheduler, token: { file: tokenFile }, heartbeatIntervalMs: 1000, timeoutMs: 2000 },
      redis: { url: fleetAgent.redis.url },
      gpus: { source: "sim", count: 1 },
      bmc: { interface: "lanplus", host: "127.0.0.1", port: bmc.port, username: SIM_USER, password: { env: "ENCLAVE_PROBE_BMC_PASSWORD" }, cipherSuite: 3, intervalMs: 1000, timeoutMs: 5000 },
      engines: { driver: "process" },
    },
    { ENCLAVE_PROBE_BMC_PASSWORD: SIM_PASSWORD },
  );
  const url = `http://127.0.0.1:${port}`;
  await waitFor(async () => /^ipmi_up\{[^}]*\} 1$/m.test(await (await fetch(`${url}/metrics`, { signal: AbortSignal.timeout(2000) })).text()), {
    timeoutMs: 30_000,
    intervalMs: 100,
    what: "the BMC agent to read its BMC",
  });
  return url;
}

/** Requests that make every series the dashboards show exist: served, denied, redacted, shed, failed closed, audited. */
async function traffic(): Promise<void> {
  const codes = await Promise.all([
    ...[1, 2, 3].map((i) => chat(stack.gateway, stack.keys.eu, `hello ${i}`)),
    ...[1, 2, 3].map((i) => chat(stack.gateway, stack.keys.us, `hello ${i}`)),
    chat(stack.gateway, stack.keys.eu, "hi", "no-such-model"),
    chat(probeGateway, keys.us, "shipped to a sink that refuses"),
    chat(probeGateway, keys.nowhere, "allowed only where nothing runs"),
  ]);
  assert.deepEqual(codes, [200, 200, 200, 200, 200, 200, 404, 200, 503]);
  // Three a minute for probe-eu: the fourth is shed. The first carries an email to redact.
  const limited: number[] = [];
  for (let i = 0; i < 4; i++) limited.push(await chat(probeGateway, keys.eu, i === 0 ? "mail me at jane.doe@example.com" : `request ${i}`));
  assert.deepEqual(limited, [200, 200, 200, 429]);
  // A deployment no node can hold: the scheduler counts placement failures for it.
  const token = readFileSync(join(stack.stateDir, "secrets", "operator.token"), "utf8").trim();
  const r = await fetch(`${stack.scheduler}/v1/deployments/probe-unplaceable`, {
    method: "PUT",
    headers: { authorization: `Bearer ${token}`, "content-type": "application/json" },
    body: JSON.stringify({ name: "probe-unplaceable", model: "probe/too-big", engine: "vllm", gpusPerReplica: 8, vramPerGpuMiB: 70000, replicasPerRegion: { "eu-central-1": 1 } }),
    signal: AbortSignal.timeout(5000),
  });
  assert.equal(r.status, 201, await r.text());
}

/** Grafana's variables in order (later ones may use earlier ones), each with all its values selected. */
async function resolveVariables(model: Model): Promise<Record<string, string[]>> {
  const values: Record<string, string[]> = {};
  for (const v of variableQueries(model)) {
    const { selector, label } = parseLabelValues(v.query);
    const got = await prom.labelValues(label, selector === undefined ? undefined : substitute(selector, values, RATE_INTERVAL));
    if (got.length === 0) throw new Error(`variable $${v.name} (${v.query}) has no values`);
    values[v.name] = got;
  }
  return values;
}

/** Panels whose queries return nothing (or fail) as Grafana would send them now; empty when every one returns data. */
async function panelsWithoutData(model: Model): Promise<string[]> {
  const values = await resolveVariables(model);
  const missing: string[] = [];
  for (const q of panelQueries(model)) {
    const expr = substitute(q.expr, values, RATE_INTERVAL);
    try {
      if ((await prom.query(expr)).length === 0) missing.push(`${q.panel} [${q.refId}]: no data for ${expr}`);
    } catch (e) {
      missing.push(`${q.panel} [${q.refId}]: ${(e as Error).message}`);
    }
  }
  return missing;
}

const panelTitle = (line: string) => line.slice(0, line.indexOf(" ["));

describe("dashboards and alerts against a real Prometheus scraping the local stack", () => {
  before(async () => {
    const t0 = Date.now();
    stack = await startUp();
    const agents = ["eu-node-1", "us-node-1"].map((n) => readJson<{ listen: { host: string; port: number } }>(join(stack.stateDir, "config", `agent-${n}.yaml`)).listen);
    const ports = { gateway: await freePort(), bmcAgent: await freePort() };
    probeGateway = `http://127.0.0.1:${ports.gateway}`;
    bmcNode = `http://127.0.0.1:${ports.bmcAgent}`;
    const config = prometheusConfigYaml({
      targets: { gateway: [hostPort(stack.gateway), hostPort(probeGateway)], scheduler: [hostPort(stack.scheduler)], agent: [...agents.map((a) => `${a.host}:${a.port}`), hostPort(bmcNode)] },
      ruleFiles: [join(PACKAGE_DIR, RULE_FILE)],
      scrapeInterval: "1s",
      evaluationInterval: "1s",
    });
    // Prometheus starts with the probes: its first scrape waits for target discovery (about 5 s) anyway.
    // allSettled: a failed start must not leave the others starting while after() already cleans up.
    const started = await Promise.allSettled([
      startProbeGateway(ports.gateway),
      startBmcAgent(ports.bmcAgent),
      startPrometheus(config).then((p) => {
        prom = p;
        extras.push(p);
      }),
    ]);
    for (const r of started) if (r.status === "rejected") throw r.reason;
    await traffic();
    // Samples from every target (Prometheus batches target discovery: the first scrape comes after about 5 s).
    await waitFor(async () => (await prom.query("up == 1")).length === 6, { timeoutMs: 30_000, intervalMs: 200, what: "every target scraped" });
    console.log(`# stack, probes and Prometheus ready after ${Date.now() - t0} ms (enclave up: ${stack.startedInMs} ms)`);
  });

  after(async () => {
    await Promise.all([...extras.map((e) => e.stop().catch(() => {})), stack?.stop()]);
    rmSync(dir, { recursive: true, force: true });
  });

  test("Prometheus scrapes every process: both gateways, the scheduler and the three agents", async () => {
    const up = await prom.query("up");
    assert.deepEqual(
      up.map((s) => `${s.metric.job} ${s.value[1]}`).sort(),
      ["enclave-agent 1", "enclave-agent 1", "enclave-agent 1", "enclave-gateway 1", "enclave-gateway 1", "enclave-scheduler 1"],
    );
  });

  for (const d of DASHBOARDS) {
    test(`every panel query of ${d.file} returns data, with its template variables substituted`, async () => {
      const model = JSON.parse(dashboardJson(d.build())) as Model;
      assert.ok(panelQueries(model).length > 10);
      // Poll: rates need two samples of a series, and some series appear with the traffic.
      let missing: string[] = [];
      await waitFor(async () => (missing = await panelsWithoutData(model)).length === 0, { timeoutMs: 30_000, intervalMs: 500, what: `data for every panel of ${d.file}` }).catch(() => {});
      assert.deepEqual(missing, []);
    });
  }

  test("NVIDIA's DCGM exporter dashboard works against the agents' metrics, but for the one profiling counter nvidia-smi lacks", async () => {
    const model = readJson<Model & { __source: { repository: string } }>(join(PACKAGE_DIR, "fixtures", "nvidia-dcgm-exporter-dashboard.json"));
    assert.equal(model.__source.repository, "NVIDIA/dcgm-exporter");
    // The metric names and the labels its queries select on, as our agents export them.
    const exprs = [...panelQueries(model).map((q) => q.expr), ...variableQueries(model).map((v) => v.query)];
    const metrics = new Set(exprs.flatMap((e) => [...e.matchAll(/\bDCGM_FI_\w+/g)].map((m) => m[0])));
    const labels = new Set(exprs.flatMap((e) => [...e.matchAll(/\b(\w+)=~"/g)].map((m) => m[1]!)));
    assert.deepEqual([...labels].sort(), ["Hostname", "gpu"]);
    for (const metric of metrics) {
      if (metric === "DCGM_FI_PROF_PIPE_TENSOR_ACTIVE") continue;
      const series = await prom.series(metric);
      assert.ok(series.length >= 4, `${metric}: ${series.length} series`);
      for (const s of series) for (const l of labels) assert.ok(s[l], `${metric} has no ${l} label: ${JSON.stringify(s)}`);
    }
    let missing: string[] = [];
    await waitFor(async () => (missing = await panelsWithoutData(model)).every((m) => panelTitle(m) in DCGM_GAPS), { timeoutMs: 30_000, intervalMs: 500, what: "data for NVIDIA's panels" }).catch(() => {});
    assert.deepEqual(missing.map(panelTitle), Object.keys(DCGM_GAPS), missing.join("\n"));
  });

  test("every alert expression parses and evaluates; Prometheus loaded every rule and evaluates each without error", async () => {
    for (const a of ALERTS) await prom.query(a.expr);
    type Rules = { groups: { rules: { name: string; health: string; lastError?: string; lastEvaluation: string }[] }[] };
    const rules = await waitFor(
      async () => {
        const r = (await prom.get<Rules>("/api/v1/rules")).groups.flatMap((g) => g.rules);
        return r.length === ALERTS.length && r.every((x) => !x.lastEvaluation.startsWith("0001")) ? r : undefined;
      },
      { timeoutMs: 10_000, intervalMs: 200, what: "every rule evaluated once" },
    );
    assert.deepEqual(rules.map((r) => r.name).sort(), ALERTS.map((a) => a.alert).sort());
    for (const r of rules) assert.equal(r.health, "ok", `${r.name}: ${r.lastError}`);
  });

  // Last: a failed GPU makes the scheduler move replicas, which the tests above do not expect.
  test("an uncorrectable ECC error on a simulated GPU makes the ECC alert expression return that GPU, and the alert fire", async () => {
    const ecc = ALERTS.find((a) => a.alert === "EnclaveGpuEccUncorrectable")!;
    assert.deepEqual(await prom.query(ecc.expr), [], "silent while no GPU has one");
    const faults = join(stack.stateDir, "gpu-faults");
    mkdirSync(faults, { recursive: true });
    writeFileSync(join(faults, "eu-node-1.json"), JSON.stringify({ "1": { eccUncorrectedVolatile: 1 } }));

    const found = await waitFor(async () => {
      const r = await prom.query(ecc.expr);
      return r.length > 0 ? r : undefined;
    }, { timeoutMs: 20_000, intervalMs: 200, what: "the ECC alert expression to return the GPU" });
    assert.deepEqual(found.map((s) => [s.metric.node, s.metric.region, s.metric.gpu, s.value[1]]), [["eu-node-1", "eu-central-1", "1", "1"]]);
    assert.match(found[0]!.metric.UUID ?? "", /^GPU-/);

    type Alerts = { alerts: { labels: Record<string, string>; state: string; annotations: Record<string, string> }[] };
    const firing = await waitFor(
      async () => (await prom.get<Alerts>("/api/v1/alerts")).alerts.find((a) => a.labels.alertname === ecc.alert && a.state === "firing"),
      { timeoutMs: 10_000, intervalMs: 200, what: `${ecc.alert} firing` },
    );
    assert.equal(firing.labels.node, "eu-node-1");
    assert.equal(firing.labels.gpu, "1");
    assert.equal(firing.annotations.runbook_url, `docs/runbooks/${ecc.alert}.md`);
    assert.equal(firing.annotations.summary, "GPU 1 on eu-node-1 (eu-central-1) has uncorrectable ECC errors");
    // The agent judges the GPU failed, as the health panel shows.
    const health = await waitFor(async () => (await prom.query('enclave_gpu_health_state{node="eu-node-1", gpu="1", state="failed"} == 1')).length === 1, { timeoutMs: 10_000, intervalMs: 200, what: "GPU 1 failed" });
    assert.ok(health);
  });
});

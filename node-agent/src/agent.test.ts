import assert from "node:assert/strict";
import { mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { hostname, tmpdir } from "node:os";
import { join } from "node:path";
import { after, before, describe, test, type TestContext } from "node:test";
import {
  AgentConfig,
  nodeQueueName,
  startJobId,
  stopJobId,
  type Backend,
  type GpuTelemetry,
  type NodeReport,
  type ReplicaRef,
  type StartJob,
} from "@enclave/contracts";
import { createLogger, startRedisServer, waitFor, type RedisServer } from "@enclave/runtime";
import { Queue } from "bullmq";
import { Redis } from "ioredis";
import { startAgent, type Agent } from "./agent.js";
import type { EngineDriver, EngineHandle, EngineSpec } from "./engine/engine-driver.js";
import { ProcessEngineDriver } from "./engine/process-engine-driver.js";
import type { GpuSource } from "./gpu/gpu-source.js";
import { SimGpuSource } from "./gpu/sim-gpu-source.js";
import { startFakeScheduler, type FakeScheduler } from "./test-support/fake-scheduler.js";
import { childProcesses, isAlive } from "./test-support/processes.js";

const TOKEN = "node-token-for-tests-0123456789";
const REGION = "eu-central-1";
const MODEL = "llama-3.1-8b";
const WAIT = { timeoutMs: 15_000, intervalMs: 25 };
const SIM = { ttftMs: 1, itlMs: 1, maxConcurrent: 8, outputTokens: 4 };
const log = createLogger("agent-test", process.env["TEST_LOG_LEVEL"] ?? "silent");

/** The real process driver, remembering every engine it started. */
class RecordingDriver implements EngineDriver {
  readonly handles: EngineHandle[] = [];
  private readonly inner: EngineDriver;
  constructor(inner?: EngineDriver) {
    this.inner = inner ?? new ProcessEngineDriver({ host: "127.0.0.1", sim: SIM, listenTimeoutMs: 10_000, log });
  }
  async start(spec: EngineSpec): Promise<EngineHandle> {
    const h = await this.inner.start(spec);
    this.handles.push(h);
    return h;
  }
  pids(): number[] {
    return this.handles.map((h) => h.pid ?? -1);
  }
}

interface Harness {
  nodeId: string;
  agent: Agent;
  scheduler: FakeScheduler;
  driver: RecordingDriver;
  queue: Queue;
  gpus: GpuTelemetry[];
  replica(n?: number): ReplicaRef;
  startJob(replica: ReplicaRef, gpus?: string[]): StartJob;
  /** Waits for a job to finish; its result or failure reason. */
  outcome(jobId: string): Promise<{ state: "completed"; value: unknown } | { state: "failed"; reason: string }>;
  /** A backend as the scheduler last heard of it, once `pred` holds. */
  reported(pred: (b: Backend | undefined, r: NodeReport) => boolean, what: string): Promise<NodeReport>;
  metrics(): Promise<string>;
}

let redis: RedisServer;
let dir: string;
let nodeSeq = 0;

before(async () => {
  redis = await startRedisServer();
  dir = mkdtempSync(join(tmpdir(), "enclave-agent-test-"));
  writeFileSync(join(dir, "token"), `${TOKEN}\n`);
});
after(async () => {
  await redis?.stop();
  if (dir) rmSync(dir, { recursive: true, force: true });
});

async function harness(
  t: TestContext,
  opts: { schedulerToken?: string; engines?: Record<string, unknown>; driver?: RecordingDriver; gpuSource?: GpuSource; heartbeatIntervalMs?: number } = {},
): Promise<Harness> {
  const nodeId = `node-${process.pid}-${++nodeSeq}`;
  const scheduler = await startFakeScheduler(opts.schedulerToken ?? TOKEN);
  t.after(() => scheduler.close());
  const config = AgentConfig.parse({
    nodeId,
    region: REGION,
    jurisdiction: "EU",
    logLevel: "silent",
    listen: { host: "127.0.0.1", port: 0 },
    scheduler: { url: scheduler.url, token: { file: join(dir, "token") }, heartbeatIntervalMs: opts.heartbeatIntervalMs ?? 200, timeoutMs: 1000 },
    redis: { url: redis.url },
    gpus: { source: "sim", count: 2 },
    engines: {
      driver: "process",
      startupTimeoutMs: 10_000,
      healthIntervalMs: 100,
      restart: { initialBackoffMs: 200, maxBackoffMs: 400, maxRestarts: 3 },
      sim: SIM,
      ...opts.engines,
    },
  });
  const driver = opts.driver ?? new RecordingDriver();
  const agent = await startAgent(config, { log, driver, ...(opts.gpuSource ? { gpuSource: opts.gpuSource } : {}) });
  t.after(() => agent.close());
  const connection = new Redis(redis.url, { maxRetriesPerRequest: null });
  const queue = new Queue(nodeQueueName(nodeId), { connection });
  // Closing a queue whose shared connection is still initialising would surface as an
  // unhandled 'error'; waiting for it here keeps teardown quiet.
  queue.on("error", (e) => log.warn({ err: e.message }, "test queue error"));
  await queue.waitUntilReady();
  t.after(async () => {
    await queue.close();
    await connection.quit();
  });
  const gpus = agent.report().gpus;

  return {
    nodeId,
    agent,
    scheduler,
    driver,
    queue,
    gpus,
    replica: (n = 0) => ({ deployment: "chat", region: REGION, replica: n, generation: 1 }),
    startJob: (replica, jobGpus) => ({ kind: "start", replica, model: MODEL, engine: "vllm", args: ["--max-model-len", "8192"], gpus: jobGpus ?? [gpus[0]?.uuid ?? "none"] }),
    async outcome(jobId) {
      return waitFor(
        async () => {
          // State first: a job read while active and then found completed would lack its result.
          const state = await queue.getJobState(jobId);
          const job = state === "completed" || state === "failed" ? await queue.getJob(jobId) : undefined;
          if (job && state === "completed") return { state: "completed" as const, value: job.returnvalue as unknown };
          if (job && state === "failed") return { state: "failed" as const, reason: job.failedReason };
          return undefined;
        },
        { ...WAIT, what: `job ${jobId} to finish` },
      );
    },
    async reported(pred, what) {
      return waitFor(
        () => {
          const r = scheduler.latest(nodeId);
          return r && pred(r.backends[0], r) ? r : undefined;
        },
        { ...WAIT, what },
      );
    },
    async metrics() {
      return (await fetch(`${agent.url}/metrics`)).text();
    },
  };
}

/** The value of the first series that starts with `prefix` (a whole series, or one cut after any label). */
function metricValue(text: string, prefix: string): number | undefined {
  const line = text.split("\n").find((l) => l.startsWith(prefix) && [" ", ",", "}"].includes(l[prefix.length] ?? ""));
  return line === undefined ? undefined : Number(line.slice(line.lastIndexOf(" ") + 1));
}

async function chat(baseUrl: string): Promise<{ status: number; content: unknown }> {
  const res = await fetch(`${baseUrl}/v1/chat/completions`, {
    method: "POST",
    headers: { "content-type": "application/json" },
    body: JSON.stringify({ model: MODEL, messages: [{ role: "user", content: "hello" }], max_tokens: 4 }),
    signal: AbortSignal.timeout(5000),
  });
  const body = (await res.json()) as { choices?: { message?: { content?: unknown } }[] };
  return { status: res.status, content: body.choices?.[0]?.message?.content };
}

describe("node agent", { timeout: 60_000 }, () => {
  test("a start job brings up a ready backend that serves; repeats start no second engine; a stop job removes it", async (t) => {
    const h = await harness(t);
    const replica = h.replica();
    const job = h.startJob(replica);
    await h.queue.add("start", job, { jobId: startJobId(replica) });

    const r = await h.reported((b) => b?.state === "ready", "a ready backend in a heartbeat");
    const b = r.backends[0] as Backend;
    assert.equal(b.id, `${h.nodeId}/chat/${REGION}/0/g1`);
    assert.equal(b.nodeId, h.nodeId);
    assert.equal(b.model, MODEL);
    assert.deepEqual(b.gpus, [h.gpus[0]?.uuid]);
    assert.equal(b.restarts, 0);
    assert.match(b.baseUrl, /^http:\/\/127\.0\.0\.1:\d+$/);
    const answer = await chat(b.baseUrl);
    assert.equal(answer.status, 200);
    assert.ok(typeof answer.content === "string" && answer.content.length > 0, "the engine answered");
    const done = await h.outcome(startJobId(replica));
    assert.deepEqual(done, { state: "completed", value: { ok: true, backendId: b.id, detail: `ready at ${b.baseUrl}` } });

    // The engine's GPU shows the memory it holds; the other stays idle.
    const withLoad = await h.reported((b2, rep) => (rep.gpus[0]?.memoryUsedMiB ?? 0) > 10_000 && b2?.load != null, "VRAM in use and load scraped");
    assert.ok((withLoad.gpus[1]?.memoryUsedMiB ?? Infinity) < 1024);
    assert.deepEqual(withLoad.backends[0]?.load, { running: 0, waiting: 0, kvCacheUsage: 0 }, "the idle engine's /metrics");
    // ...and in the agent's /metrics, per backend, so Prometheus needs no route to the engines.
    const loadLabels = `backend="${b.id}",deployment="chat",model="${MODEL}",node="${h.nodeId}",region="${REGION}"`;
    // A scrape taken while the chat above was still running says 1 until the next one: wait for it.
    const names = ["enclave_agent_backend_requests_running", "enclave_agent_backend_requests_waiting", "enclave_agent_backend_kv_cache_usage_ratio"];
    const metrics = await waitFor(async () => {
      const m = await h.metrics();
      return names.every((name) => metricValue(m, `${name}{${loadLabels}`) === 0) ? m : null;
    }, { timeoutMs: 10_000, what: "the idle engine's load in the agent's /metrics" });
    for (const name of names) assert.equal(metricValue(metrics, `${name}{${loadLabels}`), 0, name);

    // The same job id again is deduplicated by BullMQ; another job for the same replica by the agent.
    await h.queue.add("start", job, { jobId: startJobId(replica) });
    await h.queue.add("start", job, { jobId: `${startJobId(replica)}.again` });
    assert.deepEqual(await h.outcome(`${startJobId(replica)}.again`), { state: "completed", value: { ok: true, backendId: b.id, detail: `ready at ${b.baseUrl}` } });
    assert.equal(h.driver.handles.length, 1, "one engine started");
    assert.equal(h.agent.report().backends.length, 1);
    const [pid] = h.driver.pids();
    assert.ok(pid && isAlive(pid));
    assert.deepEqual(childProcesses("engine-main"), [pid]);

    await h.queue.add("stop", { kind: "stop", backendId: b.id, reason: "scaled down" }, { jobId: stopJobId(b.id) });
    assert.deepEqual(await h.outcome(stopJobId(b.id)), { state: "completed", value: { ok: true, backendId: b.id, detail: "stopped" } });
    assert.deepEqual(h.agent.report().backends, []);
    assert.equal(isAlive(pid), false);
    await h.reported((_b, rep) => rep.backends.length === 0, "the backend gone from heartbeats");

    await h.queue.add("stop", { kind: "stop", backendId: b.id, reason: "again" }, { jobId: `${stopJobId(b.id)}.again` });
    assert.deepEqual(await h.outcome(`${stopJobId(b.id)}.again`), { state: "completed", value: { ok: true, backendId: b.id, detail: "already gone" } });
  });

  test("a killed engine goes restarting, then ready again with restarts 1 and a new process", async (t) => {
    const h = await harness(t, { engines: { restart: { initialBackoffMs: 400, maxBackoffMs: 800, maxRestarts: 3 } } });
    const replica = h.replica();
    await h.queue.add("start", h.startJob(replica), { jobId: startJobId(replica) });
    await h.reported((b) => b?.state === "ready", "ready");
    const [first] = h.driver.pids();
    assert.ok(first);

    process.kill(first, "SIGKILL");
    await h.reported((b) => b?.state === "restarting", "restarting in a heartbeat");
    const back = await h.reported((b) => b?.state === "ready" && b.restarts === 1, "ready again after one restart");
    assert.equal(h.driver.handles.length, 2);
    const second = h.driver.pids()[1];
    assert.ok(second && second !== first && isAlive(second));
    assert.equal(isAlive(first), false);
    assert.equal((await chat(back.backends[0]?.baseUrl ?? "")).status, 200);
    assert.equal(metricValue(await h.metrics(), 'enclave_agent_engine_restarts_total{component="agent"}'), 1);
  });

  test("with maxRestarts 0 a crash fails the backend, reported with why; a new start job replaces it", async (t) => {
    const h = await harness(t, { engines: { restart: { initialBackoffMs: 200, maxBackoffMs: 400, maxRestarts: 0 } } });
    const replica = h.replica();
    await h.queue.add("start", h.startJob(replica), { jobId: startJobId(replica) });
    await h.reported((b) => b?.state === "ready", "ready");
    const [pid] = h.driver.pids();
    process.kill(pid as number, "SIGKILL");

    const failed = await h.reported((b) => b?.state === "failed", "failed in a heartbeat");
    const detail = failed.backends[0]?.detail ?? "";
    assert.match(detail, /killed by SIGKILL/);
    assert.match(detail, /maxRestarts 0/);
    assert.equal(failed.backends[0]?.restarts, 0);
    assert.equal(metricValue(await h.metrics(), 'enclave_agent_backends{state="failed",component="agent"}'), 1);
    assert.equal(h.driver.handles.length, 1, "no restart attempted");

    await h.queue.add("start", h.startJob(replica), { jobId: `${startJobId(replica)}.retry` });
    assert.equal((await h.outcome(`${startJobId(replica)}.retry`)).state, "completed");
    assert.equal(h.driver.handles.length, 2);
    assert.equal(h.agent.report().backends[0]?.state, "ready");
  });

  test("an engine whose /health fails is not ready until it recovers", async (t) => {
    const h = await harness(t);
    const replica = h.replica();
    await h.queue.add("start", h.startJob(replica), { jobId: startJobId(replica) });
    const r = await h.reported((b) => b?.state === "ready", "ready");
    const url = r.backends[0]?.baseUrl ?? "";
    const fault = (health: "ok" | "fail") => fetch(`${url}/sim/faults`, { method: "POST", headers: { "content-type": "application/json" }, body: JSON.stringify({ health }) });
    assert.equal((await fault("fail")).status, 200);
    const sick = await h.reported((b) => b?.state === "starting", "not ready after /health failed");
    assert.equal(sick.backends[0]?.load, null);
    assert.match(sick.backends[0]?.detail ?? "", /503/);
    await fault("ok");
    const well = await h.reported((b) => b?.state === "ready", "ready again");
    assert.equal(well.backends[0]?.restarts, 0, "recovered without a restart");
    assert.equal(h.driver.handles.length, 1);
  });

  test("a start job whose engine never gets healthy fails with the reason at the startup deadline", async (t) => {
    const fakeDir = mkdtempSync(join(tmpdir(), "enclave-sick-engine-"));
    t.after(() => rmSync(fakeDir, { recursive: true, force: true }));
    const script = join(fakeDir, "sick-engine.mjs");
    writeFileSync(
      script,
      `import { createServer } from "node:http";
       const s = createServer((req, res) => { res.writeHead(req.url === "/health" ? 503 : 404); res.end(); });
       s.listen(0, "127.0.0.1", () => process.stdout.write(JSON.stringify({ event: "listening", url: "http://127.0.0.1:" + s.address().port, pid: process.pid }) + "\\n"));`,
    );
    const driver = new RecordingDriver(new ProcessEngineDriver({ host: "127.0.0.1", sim: SIM, listenTimeoutMs: 5000, enginePath: script }));
    const h = await harness(t, { driver, engines: { startupTimeoutMs: 600, restart: { initialBackoffMs: 200, maxBackoffMs: 400, maxRestarts: 0 } } });
    const replica = h.replica();
    await h.queue.add("start", h.startJob(replica), { jobId: startJobId(replica) });
    const out = await h.outcome(startJobId(replica));
    assert.equal(out.state, "failed");
    assert.match(out.state === "failed" ? out.reason : "", /not healthy within 600 ms: \/health answered 503/);
    assert.equal(h.agent.report().backends[0]?.state, "failed");
    await waitFor(() => childProcesses("sick-engine").length === 0, { ...WAIT, what: "the unhealthy engine killed" });
  });

  test("invalid jobs fail with a clear reason and are not retried; the agent keeps working", async (t) => {
    const h = await harness(t);
    const bad = [
      { id: "bad-kind", data: { kind: "explode" }, reason: /invalid node job: kind/ },
      { id: "bad-replica", data: { ...h.startJob(h.replica()), replica: { deployment: "no spaces allowed", region: REGION, replica: -1, generation: 1 } }, reason: /invalid node job: replica\.deployment/ },
      { id: "no-gpus", data: { ...h.startJob(h.replica()), gpus: [] }, reason: /invalid node job: gpus/ },
      { id: "foreign-gpu", data: h.startJob(h.replica(), ["GPU-not-on-this-node"]), reason: /no such GPU on this node: GPU-not-on-this-node/ },
      { id: "not-an-object", data: "rm -rf /", reason: /invalid node job/ },
    ];
    for (const b of bad) await h.queue.add("start", b.data, { jobId: b.id, attempts: 3 });
    for (const b of bad) {
      const out = await h.outcome(b.id);
      assert.equal(out.state, "failed", b.id);
      assert.match(out.state === "failed" ? out.reason : "", b.reason, b.id);
      assert.equal((await h.queue.getJob(b.id))?.attemptsMade, 1, `${b.id} not retried`);
    }
    assert.equal(h.driver.handles.length, 0);

    const replica = h.replica(1);
    await h.queue.add("start", h.startJob(replica), { jobId: startJobId(replica) });
    assert.equal((await h.outcome(startJobId(replica))).state, "completed");
    assert.equal((await fetch(`${h.agent.url}/healthz`)).status, 200);
  });

  test("heartbeats carry a valid report, make the agent ready, and GPU metrics use DCGM names and labels", async (t) => {
    const source = new SimGpuSource({ nodeId: "gpu-metrics", count: 2, model: "NVIDIA H100 80GB HBM3" });
    source.fleet.injectHealth(1, { state: "failed", reasons: ["volatile uncorrectable ECC error"] });
    const h = await harness(t, { gpuSource: source });
    const r = await h.reported((_b, rep) => rep.health.state === "degraded", "a heartbeat");
    assert.equal(r.region, REGION);
    assert.equal(r.jurisdiction, "EU");
    assert.match(r.agentVersion, /^\d+\.\d+\.\d+/, "the package's version");
    assert.equal(r.gpus.length, 2);
    assert.match(r.health.reasons[0] ?? "", /GPU 1 .* failed: volatile uncorrectable ECC error/);
    assert.equal(h.scheduler.invalid, 0);
    await waitFor(async () => (await fetch(`${h.agent.url}/readyz`)).status === 200, { ...WAIT, what: "ready" });

    const text = await h.metrics();
    const uuid0 = r.gpus[0]?.uuid;
    const labels = `gpu="0",UUID="${uuid0}",device="nvidia0",modelName="NVIDIA H100 80GB HBM3",Hostname="${hostname()}",region="${REGION}",node="${h.nodeId}"`;
    for (const name of ["DCGM_FI_DEV_GPU_TEMP", "DCGM_FI_DEV_POWER_USAGE", "DCGM_FI_DEV_FB_USED", "DCGM_FI_DEV_FB_FREE", "DCGM_FI_DEV_GPU_UTIL"]) {
      const v = metricValue(text, `${name}{${labels}`);
      assert.ok(v !== undefined && Number.isFinite(v), `${name} for GPU 0 with DCGM's labels`);
    }
    assert.equal(metricValue(text, `DCGM_FI_DEV_FB_FREE{${labels}`), (r.gpus[0]?.memoryTotalMiB ?? 0) - (r.gpus[0]?.memoryUsedMiB ?? 0));
    const uuid1 = r.gpus[1]?.uuid;
    assert.equal(metricValue(text, `enclave_gpu_health_state{gpu="1",UUID="${uuid1}",node="${h.nodeId}",region="${REGION}",state="failed"`), 1);
    assert.equal(metricValue(text, `enclave_gpu_health_state{gpu="1",UUID="${uuid1}",node="${h.nodeId}",region="${REGION}",state="healthy"`), 0);
    assert.equal(metricValue(text, `enclave_gpu_health_state{gpu="0",UUID="${uuid0}",node="${h.nodeId}",region="${REGION}",state="healthy"`), 1);
    assert.ok((metricValue(text, 'enclave_agent_heartbeats_total{result="ok"') ?? 0) >= 1);
    assert.equal(metricValue(text, 'enclave_agent_backends{state="ready"'), 0);
  });

  test("a GPU source that throws makes the node unknown without stopping heartbeats", async (t) => {
    const h = await harness(t, { gpuSource: { read: () => Promise.reject(new Error("nvidia-smi: command not found")) } });
    const r = await h.reported((_b, rep) => rep.health.state === "unknown", "an unknown node");
    assert.deepEqual(r.gpus, []);
    assert.match(r.health.reasons[0] ?? "", /nvidia-smi: command not found/);
  });

  test("a rejected token is counted as a failed heartbeat; the agent keeps running but is not ready", async (t) => {
    const h = await harness(t, { schedulerToken: "some-other-token" });
    await waitFor(async () => (metricValue(await h.metrics(), 'enclave_agent_heartbeats_total{result="rejected"') ?? 0) >= 2, { ...WAIT, what: "rejected heartbeats counted" });
    assert.ok(h.scheduler.unauthorized >= 2, "it kept trying");
    assert.equal(h.scheduler.reports.length, 0);
    assert.equal((await fetch(`${h.agent.url}/healthz`)).status, 200);
    const ready = await fetch(`${h.agent.url}/readyz`);
    assert.equal(ready.status, 503);
    assert.match(await ready.text(), /no heartbeat accepted/);
    assert.doesNotMatch(await h.metrics(), new RegExp(TOKEN), "the token appears nowhere in metrics");
  });

  test("an unreachable scheduler is counted as an error, never fatal", async (t) => {
    const h = await harness(t);
    await h.scheduler.close();
    await waitFor(async () => (metricValue(await h.metrics(), 'enclave_agent_heartbeats_total{result="error"') ?? 0) >= 2, { ...WAIT, what: "failed heartbeats counted" });
    assert.equal((await fetch(`${h.agent.url}/healthz`)).status, 200);
  });

  test("close() stops every engine, and twice is fine", async (t) => {
    const h = await harness(t);
    for (const n of [0, 1]) await h.queue.add("start", h.startJob(h.replica(n), [h.gpus[n]?.uuid ?? ""]), { jobId: startJobId(h.replica(n)) });
    await h.reported((_b, r) => r.backends.length === 2 && r.backends.every((b) => b.state === "ready"), "two ready backends");
    const pids = h.driver.pids();
    assert.equal(pids.length, 2);
    assert.equal(childProcesses("engine-main").length, 2);
    await Promise.all([h.agent.close(), h.agent.close()]);
    await h.agent.close();
    for (const pid of pids) assert.equal(isAlive(pid), false, `engine ${pid} stopped`);
    assert.deepEqual(childProcesses("engine-main"), []);
    await assert.rejects(fetch(`${h.agent.url}/healthz`), "the HTTP server is closed");
  });
});

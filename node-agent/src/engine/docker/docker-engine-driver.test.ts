/**
 * The Docker engine driver against a real Docker-compatible API: a private podman
 * service (its own state and network namespace), running the engine simulator image
 * built from this checkout. Podman accepts but ignores GPU DeviceRequests; the exact
 * create body, GPUs included, is checked in container-spec.test.ts.
 */
import assert from "node:assert/strict";
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { after, before, describe, test, type TestContext } from "node:test";
import { backendId, DockerEngineOptions, type StartJob } from "@enclave/contracts";
import { createLogger, waitFor } from "@enclave/runtime";
import Dockerode from "dockerode";
import { BackendSet } from "../../backends/backend-set.js";
import { handleNodeJob, type JobOutcome } from "../../jobs/node-job-handler.js";
import { httpEngineProbe } from "../engine-probe.js";
import { containerName, LABEL } from "./container-spec.js";
import { DockerEngineDriver } from "./docker-engine-driver.js";
import { startPodmanService, type PodmanService } from "./testing/podman-service.js";
import { importSimImage } from "./testing/sim-image.js";

const log = createLogger("docker-driver-test", "silent");
const MODEL = "meta-llama/Llama-3.1-8B-Instruct";
const GPUS = ["GPU-11111111-aaaa", "GPU-22222222-bbbb"];
const WAIT = { timeoutMs: 20_000, intervalMs: 50 };

const startJob = (deployment: string, over: Partial<StartJob> = {}): StartJob => ({
  kind: "start",
  replica: { deployment, region: "eu-central-1", replica: 0, generation: 1 },
  model: MODEL,
  engine: "vllm",
  args: [],
  gpus: GPUS,
  ...over,
});

let pd: PodmanService;
let api: Dockerode;
let image: string;
let modelDir: string;

interface AgentOptions {
  maxRestarts?: number;
  startupTimeoutMs?: number;
  orphanSweepIntervalMs?: number;
  docker?: Record<string, unknown>;
}

/** The engine half of an agent (driver, backends, job handling) on `nodeId`, closed after the test (engines left running, like a restart). */
function agentOn(t: TestContext, nodeId: string, o: AgentOptions = {}) {
  const docker = DockerEngineOptions.parse({
    socketPath: pd.socketPath,
    modelCache: { hostPath: modelDir },
    profiles: { vllm: "sim", sglang: "sim" },
    images: { vllm: image },
    stopGraceMs: 3000,
    apiTimeoutMs: 15_000,
    ...o.docker,
  });
  const startupTimeoutMs = o.startupTimeoutMs ?? 15_000;
  const driver = new DockerEngineDriver({ nodeId, host: pd.host, docker, log });
  const probe = httpEngineProbe(2000);
  const backends = new BackendSet({
    nodeId,
    driver,
    probe,
    engines: { host: pd.host, startupTimeoutMs, healthIntervalMs: 100, restart: { initialBackoffMs: 200, maxBackoffMs: 400, maxRestarts: o.maxRestarts ?? 3 } },
    stopGraceMs: docker.stopGraceMs,
    persistence: { leaveRunningOnClose: true, orphanSweepIntervalMs: o.orphanSweepIntervalMs ?? 60_000 },
    log,
    onStateChange: () => {},
    onRestart: () => {},
  });
  const ctx = { backends, gpuUuids: () => GPUS, startupTimeoutMs, verdictSlackMs: 5000 };
  let closed: Promise<void> | undefined;
  const close = () => (closed ??= backends.close().then(() => probe.close()));
  t.after(close);
  return { nodeId, driver, backends, close, run: (job: unknown) => handleNodeJob(job, ctx) };
}

async function containersOf(nodeId: string): Promise<Dockerode.ContainerInfo[]> {
  return api.listContainers({ all: true, filters: { label: [`${LABEL.node}=${nodeId}`] } });
}

async function inspectOrNull(name: string): Promise<Dockerode.ContainerInspectInfo | null> {
  try {
    return await api.getContainer(name).inspect();
  } catch (e) {
    if ((e as { statusCode?: number }).statusCode === 404) return null;
    throw e;
  }
}

async function chat(url: string): Promise<{ status: number; content: string }> {
  const res = await fetch(`${url}/v1/chat/completions`, {
    method: "POST",
    headers: { "content-type": "application/json" },
    body: JSON.stringify({ model: MODEL, messages: [{ role: "user", content: "Hello" }], max_tokens: 4 }),
    signal: AbortSignal.timeout(10_000),
  });
  const body = (await res.json()) as { choices?: { message?: { content?: string } }[] };
  return { status: res.status, content: body.choices?.[0]?.message?.content ?? "" };
}

const reason = (o: JobOutcome) => (o.kind === "done" ? o.result.detail : o.reason);

describe("Docker engine driver (podman's Docker API, real containers)", () => {
  before(async () => {
    pd = await startPodmanService();
    api = new Dockerode({ socketPath: pd.socketPath });
    image = await importSimImage(pd.podman);
    modelDir = mkdtempSync(join(tmpdir(), "enclave-models-"));
  });
  after(async () => {
    await pd?.stop();
    if (modelDir) rmSync(modelDir, { recursive: true, force: true });
  });

  test("start → ready → serving through the reported URL; a retried start job reuses the container", async (t) => {
    const a = agentOn(t, "n-serve");
    const job = startJob("chat", { contextLength: 4096 });
    const id = backendId("n-serve", job.replica);
    const outcome = await a.run(job);
    assert.equal(outcome.kind, "done", reason(outcome));
    const b = a.backends.get(id)!.snapshot();
    assert.equal(b.state, "ready");
    assert.match(b.baseUrl, new RegExp(`^http://${pd.host.replaceAll(".", "\\.")}:20\\d{3}$`));
    assert.deepEqual(await chat(b.baseUrl), { status: 200, content: (await chat(b.baseUrl)).content });
    assert.equal((await chat(b.baseUrl)).status, 200);
    await waitFor(() => a.backends.get(id)?.snapshot().load, { ...WAIT, what: "load scraped from the engine's /metrics" });

    const info = (await inspectOrNull(containerName(id)))!;
    assert.equal(info.Config.Labels[LABEL.backend], id);
    assert.equal(info.Config.Labels[LABEL.deployment], "chat");
    assert.equal(info.Config.Labels[LABEL.generation], "1");
    assert.equal(info.Config.Labels[LABEL.engine], "vllm");
    assert.deepEqual(info.Config.Cmd, ["--model", MODEL, "--host", "0.0.0.0", "--port", "8000", "--max-model-len", "4096"]);
    const cache = info.Mounts.find((m) => m.Destination === "/root/.cache/huggingface");
    assert.deepEqual([cache?.Source, cache?.RW], [modelDir, false], "the model cache, read-only");
    assert.ok(["no", ""].includes(info.HostConfig.RestartPolicy?.Name ?? ""), "the agent, not the daemon, restarts engines");
    assert.equal(info.NetworkSettings.Ports["8000/tcp"]?.[0]?.HostPort, new URL(b.baseUrl).port);
    assert.ok(info.Config.Env.includes("HF_HUB_OFFLINE=1"));

    const again = await a.run(job);
    assert.deepEqual(again, outcome, "the retried job reports the same engine");
    const all = await containersOf("n-serve");
    assert.deepEqual(all.map((c) => c.Id), [info.Id], "one container, never a second");
  });

  test("a crashed engine is reported at once with its exit and log tail, and restarted in a new container", async (t) => {
    const a = agentOn(t, "n-crash");
    const job = startJob("chat");
    const id = backendId("n-crash", job.replica);
    assert.equal((await a.run(job)).kind, "done");
    const first = (await inspectOrNull(containerName(id)))!;
    const states: string[] = [];
    const s = a.backends.get(id)!;
    s.subscribe(() => states.push(`${s.snapshot().state}:${s.snapshot().detail ?? ""}`));
    await api.getContainer(first.Id).kill({ signal: "SIGKILL" });
    // Watch the recorded transitions, not the current state: the restart may come before a poll would.
    const noticed = await waitFor(() => states.find((x) => x.startsWith("restarting:")), { ...WAIT, what: "the crash to be noticed" });
    assert.match(noticed, /restart in \d+ ms, after: engine was killed by SIGKILL; last output: .*listening/s);
    await waitFor(() => s.snapshot().state === "ready" && s.snapshot().restarts === 1, { ...WAIT, what: "ready again" });
    const second = (await inspectOrNull(containerName(id)))!;
    assert.notEqual(second.Id, first.Id, "a fresh container under the same name");
    assert.equal((await chat(s.snapshot().baseUrl)).status, 200);
    assert.equal((await containersOf("n-crash")).length, 1, "the dead container was replaced, not kept beside");
    assert.ok(states.some((x) => x.startsWith("restarting:")));
  });

  test("an engine that keeps dying is restarted with backoff, then reported failed with its last output", async (t) => {
    const a = agentOn(t, "n-fail", { maxRestarts: 2 });
    const t0 = Date.now();
    const outcome = await a.run(startJob("broken", { args: ["--no-such-flag"] }));
    assert.equal(outcome.kind, "failed");
    assert.match(reason(outcome), /failed: gave up after 3 failures in a row \(restart\.maxRestarts 2\): engine exited with code 2; last output: .*--no-such-flag/s);
    // Two backoffs of at least 100 and 200 ms (full jitter over [base/2, base]).
    assert.ok(Date.now() - t0 >= 300, `restarted with backoff (${Date.now() - t0} ms)`);
    const b = a.backends.get(backendId("n-fail", startJob("broken").replica))!.snapshot();
    assert.equal(b.state, "failed");
    assert.equal(b.restarts, 2);
  });

  test("after an agent restart, running engines are adopted without a restart, and a retried job starts nothing", async (t) => {
    const job = startJob("chat");
    const id = backendId("n-adopt", job.replica);
    const first = agentOn(t, "n-adopt");
    assert.equal((await first.run(job)).kind, "done");
    const url = first.backends.get(id)!.snapshot().baseUrl;
    const before = (await inspectOrNull(containerName(id)))!;
    await first.close();
    assert.equal((await inspectOrNull(containerName(id)))?.State.Running, true, "the engine outlives its agent");

    const next = agentOn(t, "n-adopt");
    const taken = await next.backends.takeOver();
    assert.deepEqual(taken, { adopted: [id], removed: [] });
    await waitFor(() => next.backends.get(id)?.phase === "ready", { ...WAIT, what: "the adopted engine ready" });
    const after = (await inspectOrNull(containerName(id)))!;
    assert.equal(after.Id, before.Id);
    assert.equal(after.State.StartedAt, before.State.StartedAt, "not restarted");
    assert.equal(next.backends.get(id)!.snapshot().baseUrl, url);
    assert.equal((await chat(url)).status, 200);
    assert.equal((await next.run(job)).kind, "done");
    assert.equal((await containersOf("n-adopt")).length, 1);
  });

  test("orphans are removed: dead or unreadable containers at take-over, engines of deleted deployments on the scheduler's stop, strays by the sweep", async (t) => {
    const node = "n-orphans";
    const first = agentOn(t, node);
    assert.equal((await first.run(startJob("kept"))).kind, "done");
    assert.equal((await first.run(startJob("deleted"))).kind, "done");
    await first.close();
    const stray = (name: string, labels: Record<string, string>, cmd: string[]) =>
      api
        .createContainer({ name, Image: image, Entrypoint: ["node", "-e"], Cmd: cmd, Labels: labels, HostConfig: { NetworkMode: "none", Init: true } })
        .then(async (c) => (await c.start(), c));
    const unreadable = await stray("enclave-test-unreadable", { [LABEL.node]: node, [LABEL.spec]: "{" }, ["setInterval(() => {}, 1000)"]);
    const exited = await stray(containerName(`${node}/old/eu-central-1/0/g1`), { [LABEL.node]: node, [LABEL.backend]: `${node}/old/eu-central-1/0/g1` }, ["process.exit(0)"]);
    const otherNode = await stray("enclave-test-other-node", { [LABEL.node]: "someone-else" }, ["setInterval(() => {}, 1000)"]);
    t.after(() => otherNode.remove({ force: true }).catch(() => {}));
    await waitFor(async () => (await exited.inspect()).State.Status === "exited", { ...WAIT, what: "the stray to exit" });

    const next = agentOn(t, node, { orphanSweepIntervalMs: 1000 });
    const taken = await next.backends.takeOver();
    assert.deepEqual(taken.adopted.sort(), [backendId(node, startJob("deleted").replica), backendId(node, startJob("kept").replica)]);
    assert.equal(taken.removed.length, 2, taken.removed.join("; "));
    assert.equal(await inspectOrNull(unreadable.id), null);
    assert.equal(await inspectOrNull(exited.id), null);
    assert.notEqual(await inspectOrNull(otherNode.id), null, "another node's containers are not ours to remove");

    // The scheduler stops what belongs to a deployment that no longer exists.
    const deleted = backendId(node, startJob("deleted").replica);
    assert.deepEqual(await next.run({ kind: "stop", backendId: deleted, reason: "deployment deleted" }), { kind: "done", result: { ok: true, backendId: deleted, detail: "stopped" } });
    assert.equal(await inspectOrNull(containerName(deleted)), null);

    // A container of this node that appears later and no backend owns goes at the next sweep.
    const late = await stray("enclave-test-late", { [LABEL.node]: node }, ["setInterval(() => {}, 1000)"]);
    await waitFor(async () => (await inspectOrNull(late.id)) === null, { ...WAIT, what: "the periodic sweep" });
    assert.deepEqual((await containersOf(node)).map((c) => c.Labels[LABEL.backend]), [backendId(node, startJob("kept").replica)]);
  });

  test("stop: SIGTERM, the engine exits cleanly, the container is removed", async (t) => {
    const a = agentOn(t, "n-stop");
    const job = startJob("chat");
    const id = backendId("n-stop", job.replica);
    const handle = await a.driver.start({ backendId: id, replica: job.replica, model: MODEL, engine: "vllm", gpus: GPUS, args: [] });
    const exit = new Promise<[number | null, string | null, string]>((resolve) => handle.onExit((c, s, l) => resolve([c, s, l])));
    await waitFor(async () => (await fetch(`${handle.url}/health`).catch(() => null))?.status === 200, { ...WAIT, what: "health" });
    await handle.stop(3000);
    const [code, signal, tail] = await exit;
    assert.deepEqual([code, signal], [0, null], "the simulator exits 0 on SIGTERM");
    assert.match(tail, /stopping.*SIGTERM/s);
    assert.equal(await inspectOrNull(containerName(id)), null);
    await handle.stop(3000); // twice is fine

    // Through a job: the backend goes, and so does its container.
    assert.equal((await a.run(job)).kind, "done");
    assert.deepEqual(await a.run({ kind: "stop", backendId: id, reason: "drain" }), { kind: "done", result: { ok: true, backendId: id, detail: "stopped" } });
    assert.deepEqual(await containersOf("n-stop"), []);
  });

  test("a missing image is a clear job failure; nothing is pulled but from the configured registry, and a failed pull says why", async (t) => {
    const a = agentOn(t, "n-image");
    const missing = await a.run(startJob("chat", { image: "localhost/enclave-not-here:1" }));
    assert.equal(missing.kind, "failed");
    assert.match(reason(missing), /engine cannot start: image localhost\/enclave-not-here:1 is not present on node n-image; load it with `docker load/);

    const r = agentOn(t, "n-registry", { docker: { registry: { host: "127.0.0.1:9", pullTimeoutMs: 10_000 } } });
    const hub = await r.run(startJob("hub", { image: "docker.io/vllm/vllm-openai:v0.9.2" }));
    assert.match(reason(hub), /is not present on node n-registry.*not under the configured registry 127\.0\.0\.1:9/);
    const pulled = await r.run(startJob("pulled", { image: "127.0.0.1:9/vllm/vllm-openai:v0.9.2" }));
    assert.equal(pulled.kind, "failed");
    assert.match(reason(pulled), /pulling image 127\.0\.0\.1:9\/vllm\/vllm-openai:v0\.9\.2 from 127\.0\.0\.1:9 failed: .+/);
    assert.deepEqual(await containersOf("n-image"), []);
  });
});

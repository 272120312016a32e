import assert from "node:assert/strict";
import { describe, test, type TestContext } from "node:test";
import type { StartJob } from "@enclave/contracts";
import { createLogger, waitFor } from "@enclave/runtime";
import { BackendSet } from "../backends/backend-set.js";
import { FakeDriver, fakeProbe } from "../test-support/fake-engines.js";
import { handleNodeJob, type JobOutcome } from "./node-job-handler.js";

const log = createLogger("jobs-test", "silent");
const GPUS = ["GPU-a", "GPU-b"];
const START: StartJob = {
  kind: "start",
  replica: { deployment: "chat", region: "eu-central-1", replica: 0, generation: 1 },
  model: "m",
  engine: "vllm",
  args: [],
  gpus: ["GPU-a"],
};
const ID = "n1/chat/eu-central-1/0/g1";

function setup(t: TestContext, opts: { healthy?: boolean; auto?: boolean; startupTimeoutMs?: number; maxRestarts?: number } = {}) {
  const health = { healthy: opts.healthy ?? true };
  const driver = new FakeDriver(opts.auto ?? true);
  const backends = new BackendSet({
    nodeId: "n1",
    driver,
    probe: fakeProbe(health),
    engines: {
      host: "127.0.0.1",
      startupTimeoutMs: opts.startupTimeoutMs ?? 5000,
      healthIntervalMs: 10,
      restart: { initialBackoffMs: 20, maxBackoffMs: 40, maxRestarts: opts.maxRestarts ?? 3 },
    },
    stopGraceMs: 100,
    log,
    onStateChange: () => {},
    onRestart: () => {},
  });
  t.after(() => backends.close());
  const ctx = { backends, gpuUuids: () => GPUS, startupTimeoutMs: opts.startupTimeoutMs ?? 5000, verdictSlackMs: 1000 };
  return { health, driver, backends, run: (data: unknown) => handleNodeJob(data, ctx) };
}

const reason = (o: JobOutcome) => (o.kind === "done" ? "" : o.reason);

describe("node jobs", () => {
  test("invalid data is rejected (not retryable) naming what is wrong", async (t) => {
    const { run, driver } = setup(t);
    const cases: [unknown, RegExp][] = [
      [null, /invalid node job/],
      [{ kind: "reboot" }, /invalid node job: kind/],
      [{ ...START, gpus: [] }, /invalid node job: gpus/],
      [{ ...START, replica: { ...START.replica, generation: -1 } }, /invalid node job: replica\.generation/],
      [{ kind: "stop", backendId: "" }, /invalid node job: backendId.*; reason/],
    ];
    for (const [data, re] of cases) {
      const o = await run(data);
      assert.equal(o.kind, "rejected", JSON.stringify(data));
      assert.match(reason(o), re);
    }
    const logging = await run({ ...START, args: ["--max-num-seqs", "8", "--enable-log-requests"] });
    assert.equal(logging.kind, "rejected");
    assert.match(reason(logging), /--enable-log-requests would record prompts or completions on the node/);
    const dump = await run({ ...START, engine: "sglang", args: ["--crash-dump-folder=/secret/path"] });
    assert.match(reason(dump), /^engine argument --crash-dump-folder would record/);
    assert.ok(!reason(dump).includes("/secret/path"));
    const foreign = await run({ ...START, gpus: ["GPU-a", "GPU-zzz"] });
    assert.deepEqual(foreign, { kind: "rejected", reason: "no such GPU on this node: GPU-zzz" });
    assert.equal(driver.handles.length, 0);
  });

  test("start waits for ready; concurrent and repeated starts of one placement share one engine", async (t) => {
    const { run, driver, backends } = setup(t, { auto: false });
    const first = run(START);
    const second = run(START);
    await waitFor(() => backends.list().length === 1, { timeoutMs: 2000 });
    driver.landPending();
    const outcomes = await Promise.all([first, second, run(START)]);
    for (const o of outcomes) assert.deepEqual(o, { kind: "done", result: { ok: true, backendId: ID, detail: `ready at ${driver.handles[0]?.url}` } });
    assert.equal(driver.handles.length, 1);
    assert.equal(backends.list().length, 1);
    // Another generation is another placement.
    const pending = run({ ...START, replica: { ...START.replica, generation: 2 } });
    await waitFor(() => backends.list().length === 2, { timeoutMs: 2000 });
    driver.landPending();
    const next = await pending;
    assert.equal(next.kind === "done" && next.result.backendId, "n1/chat/eu-central-1/0/g2");
    assert.equal(driver.handles.length, 2);
  });

  test("an engine that never gets healthy ends the job at the startup deadline, with why, while the backend keeps trying", async (t) => {
    const { run, backends } = setup(t, { healthy: false, startupTimeoutMs: 100, maxRestarts: 5 });
    const t0 = Date.now();
    const o = await run(START);
    assert.equal(o.kind, "failed");
    assert.match(reason(o), /not ready within 100 ms: .*not healthy within 100 ms: \/health answered 503/);
    assert.ok(Date.now() - t0 < 1000, "ended by the supervisor's verdict, not the slack");
    assert.notEqual(backends.get(ID)?.phase, "failed", "restarts remain");
  });

  test("a failed backend fails the job at once and is replaced by the next start", async (t) => {
    const { run, driver, backends, health } = setup(t, { healthy: false, startupTimeoutMs: 50, maxRestarts: 0 });
    const o = await run(START);
    assert.match(reason(o), /failed: gave up after 1 failure/);
    assert.equal(backends.get(ID)?.phase, "failed");
    health.healthy = true;
    assert.equal((await run(START)).kind, "done");
    assert.equal(driver.handles.length, 2);
    assert.equal(backends.list().length, 1);
  });

  test("stop removes a backend, a pending start job learns it was stopped, and an unknown id is already gone", async (t) => {
    const { run, driver, backends } = setup(t, { auto: false });
    const starting = run(START);
    await waitFor(() => backends.list().length === 1, { timeoutMs: 2000 });
    const stopping = run({ kind: "stop", backendId: ID, reason: "drain" });
    driver.landPending();
    assert.deepEqual(await stopping, { kind: "done", result: { ok: true, backendId: ID, detail: "stopped" } });
    assert.match(reason(await starting), /stopped before it became ready/);
    assert.deepEqual(backends.list(), []);
    assert.equal(driver.handles[0]?.stops, 1);
    assert.deepEqual(await run({ kind: "stop", backendId: ID, reason: "again" }), { kind: "done", result: { ok: true, backendId: ID, detail: "already gone" } });
  });

  test("after close no backend can be started", async (t) => {
    const { run, backends } = setup(t);
    await backends.close();
    assert.deepEqual(await run(START), { kind: "failed", reason: "agent is shutting down" });
  });
});

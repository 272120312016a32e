import assert from "node:assert/strict";
import { describe, test } from "node:test";
import { createLogger, waitFor } from "@enclave/runtime";
import type { EngineDriver, EngineSpec } from "../engine/engine-driver.js";
import type { EngineProbe } from "../engine/engine-probe.js";
import { FAKE_LOAD as LOAD, FakeDriver, fakeProbe } from "../test-support/fake-engines.js";
import { EngineSupervisor } from "./engine-supervisor.js";

const log = createLogger("supervisor-test", "silent");
const SPEC: EngineSpec = {
  backendId: "n1/chat/eu-central-1/0/g1",
  replica: { deployment: "chat", region: "eu-central-1", replica: 0, generation: 1 },
  model: "m",
  engine: "vllm",
  gpus: ["GPU-a"],
  args: [],
};
const WAIT = { timeoutMs: 5000, intervalMs: 5 };

function supervisor(driver: EngineDriver, probe: EngineProbe, over: { startupTimeoutMs?: number; maxRestarts?: number } = {}) {
  const events = { changes: 0, restarts: 0 };
  const s = new EngineSupervisor({
    nodeId: "n1",
    spec: SPEC,
    driver,
    probe,
    policy: { startupTimeoutMs: over.startupTimeoutMs ?? 5000, maxRestarts: over.maxRestarts ?? 3, backoffMs: () => 10 },
    healthIntervalMs: 10,
    stopGraceMs: 100,
    placeholderUrl: "http://127.0.0.1:0",
    log,
    onStateChange: () => events.changes++,
    onRestart: () => events.restarts++,
  });
  return { s, events };
}

describe("engine supervisor", () => {
  test("reports starting with a placeholder address, then ready with the engine's address and load", async () => {
    const health = { healthy: false };
    const driver = new FakeDriver(false);
    const { s } = supervisor(driver, fakeProbe(health));
    try {
      assert.deepEqual(
        { state: s.snapshot().state, url: s.snapshot().baseUrl, load: s.snapshot().load },
        { state: "starting", url: "http://127.0.0.1:0", load: null },
      );
      driver.landPending();
      await waitFor(() => s.snapshot().baseUrl !== "http://127.0.0.1:0", { ...WAIT, what: "launched" });
      assert.equal(s.phase, "starting", "not ready while /health fails");
      health.healthy = true;
      await waitFor(() => s.snapshot().load !== null, { ...WAIT, what: "ready with load" });
      const b = s.snapshot();
      assert.equal(b.state, "ready");
      assert.equal(b.baseUrl, driver.handles[0]?.url);
      assert.deepEqual(b.load, LOAD);
      assert.equal(b.detail, undefined);
      assert.equal(s.enginePid, driver.handles[0]?.pid);
    } finally {
      await s.stop();
    }
  });

  test("a crash relaunches after the backoff and counts the restart", async () => {
    const driver = new FakeDriver();
    const { s, events } = supervisor(driver, fakeProbe({ healthy: true }));
    try {
      await waitFor(() => s.phase === "ready", { ...WAIT, what: "ready" });
      driver.handles[0]?.crash();
      assert.equal(s.phase, "restarting");
      assert.match(s.snapshot().detail ?? "", /killed by SIGKILL; last output: segfault/);
      await waitFor(() => s.phase === "ready" && driver.handles.length === 2, { ...WAIT, what: "ready again" });
      assert.equal(s.snapshot().restarts, 1);
      assert.equal(events.restarts, 1);
      assert.equal(s.snapshot().baseUrl, driver.handles[1]?.url);
      assert.equal(driver.handles[0]?.stops, 0, "a dead engine is not stopped again");
      assert.ok(events.changes >= 4, "each state change is announced");
    } finally {
      await s.stop();
    }
    assert.equal(driver.handles[1]?.stops, 1);
  });

  test("an engine not healthy by the startup deadline is stopped, and with no restarts left the backend fails", async () => {
    const driver = new FakeDriver();
    const { s } = supervisor(driver, fakeProbe({ healthy: false }), { startupTimeoutMs: 50, maxRestarts: 0 });
    await waitFor(() => s.phase === "failed", { ...WAIT, what: "failed" });
    assert.equal(driver.handles.length, 1);
    assert.equal(driver.handles[0]?.stops, 1, "the unhealthy engine was stopped");
    assert.match(s.snapshot().detail ?? "", /not healthy within 50 ms/);
    assert.equal(s.enginePid, undefined);
    await s.stop();
    assert.equal(s.phase, "stopping");
  });

  test("stop during a launch waits for it and stops the engine it yields", async () => {
    const driver = new FakeDriver(false);
    const { s } = supervisor(driver, fakeProbe({ healthy: true }));
    let stopped = false;
    const stopping = s.stop().then(() => (stopped = true));
    assert.equal(s.phase, "stopping");
    await new Promise((r) => setImmediate(r));
    assert.equal(stopped, false, "still waiting for the launch");
    driver.landPending();
    await stopping;
    assert.equal(driver.handles[0]?.stops, 1);
    assert.equal(s.phase, "stopping", "never became ready");
    assert.equal(s.stop(), s.stop(), "idempotent");
  });
});

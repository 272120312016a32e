import assert from "node:assert/strict";
import { describe, test } from "node:test";
import {
  DETAIL_MAX,
  initialTransition,
  transition,
  type SupervisorEvent,
  type SupervisorPolicy,
  type SupervisorState,
  type Transition,
} from "./supervisor-machine.js";

const T0 = 1_000_000;

function policy(over: Partial<SupervisorPolicy> = {}): SupervisorPolicy & { attempts: number[] } {
  const attempts: number[] = [];
  return {
    startupTimeoutMs: 5000,
    maxRestarts: 3,
    backoffMs: (attempt) => {
      attempts.push(attempt);
      return 100 * 2 ** attempt;
    },
    ...over,
    attempts,
  };
}

/** Feeds events in order; returns every transition. */
function run(p: SupervisorPolicy, events: SupervisorEvent[], from: Transition = initialTransition(T0, p)): Transition[] {
  const out = [from];
  let s: SupervisorState = from.state;
  for (const e of events) {
    const t = transition(s, e, p);
    out.push(t);
    s = t.state;
  }
  return out;
}

function last(ts: Transition[]): Transition {
  const t = ts.at(-1);
  assert.ok(t);
  return t;
}

const launched = (now = T0 + 10): SupervisorEvent => ({ type: "launched", now });
const healthOk = (now = T0 + 20): SupervisorEvent => ({ type: "healthOk", now });
const healthFailed = (now: number, reason = "ECONNREFUSED"): SupervisorEvent => ({ type: "healthFailed", now, reason });
const crash = (now = T0 + 1000, code: number | null = 1, signal: string | null = null, logTail = "boom"): SupervisorEvent => ({
  type: "exited",
  now,
  exit: { code, signal, logTail },
});
const backoff = (now = T0 + 2000): SupervisorEvent => ({ type: "backoffElapsed", now });

describe("supervisor state machine", () => {
  test("starts by launching, and is ready only once /health answered 200", () => {
    const p = policy();
    const t0 = initialTransition(T0, p);
    assert.equal(t0.state.phase, "starting");
    assert.deepEqual(t0.effects, [{ type: "launch" }]);
    assert.equal(t0.state.deadline, T0 + 5000);

    // A health answer before the engine launched cannot be about it.
    assert.equal(last(run(p, [healthOk()])).state.phase, "starting");
    const ts = run(p, [launched(), healthFailed(T0 + 100), healthFailed(T0 + 200)]);
    for (const t of ts) assert.equal(t.state.phase, "starting");
    assert.deepEqual(ts.flatMap((t) => t.effects), [{ type: "launch" }]);

    const ready = last(run(p, [launched(), healthFailed(T0 + 100), healthOk(T0 + 300)]));
    assert.equal(ready.state.phase, "ready");
    assert.equal(ready.state.detail, undefined);
    assert.equal(ready.state.deadline, null);
    assert.deepEqual(ready.effects, []);
  });

  test("load is taken only while ready", () => {
    const p = policy();
    const load = { running: 2, waiting: 1, kvCacheUsage: 0.5 };
    assert.equal(last(run(p, [launched(), { type: "loadScraped", load }])).state.load, null);
    assert.deepEqual(last(run(p, [launched(), healthOk(), { type: "loadScraped", load }])).state.load, load);
    assert.equal(last(run(p, [launched(), healthOk(), { type: "loadScraped", load }, { type: "loadScraped", load: null }])).state.load, null);
  });

  test("a crash means restarting after the backoff, then a relaunch counted as a restart", () => {
    const p = policy();
    const ts = run(p, [launched(), healthOk(), crash(T0 + 1000, null, "SIGKILL", "")]);
    const r = last(ts);
    assert.equal(r.state.phase, "restarting");
    assert.equal(r.state.engineUp, false);
    assert.equal(r.state.restarts, 0);
    assert.deepEqual(r.effects, [{ type: "scheduleRestart", delayMs: 100 }]);
    assert.deepEqual(p.attempts, [0]);
    assert.match(r.state.detail ?? "", /killed by SIGKILL/);

    const again = transition(r.state, backoff(), p);
    assert.equal(again.state.phase, "starting");
    assert.equal(again.state.restarts, 1);
    assert.equal(again.state.deadline, T0 + 2000 + 5000);
    assert.deepEqual(again.effects, [{ type: "launch" }]);
    const ready = last(run(p, [launched(T0 + 2010), healthOk(T0 + 2100)], again));
    assert.equal(ready.state.phase, "ready");
    assert.equal(ready.state.restarts, 1);
  });

  test("backoff grows with failures in a row, which a ready engine resets", () => {
    const p = policy({ maxRestarts: 10 });
    run(p, [launched(), crash(), backoff(), launched(), crash(), backoff(), launched(), crash()]);
    assert.deepEqual(p.attempts, [0, 1, 2]);

    const q = policy({ maxRestarts: 1 });
    const t = last(run(q, [launched(), crash(), backoff(), launched(), healthOk(), crash(), backoff(), launched(), healthOk(), crash()]));
    assert.equal(t.state.phase, "restarting", "each crash followed a ready engine, so none is a second failure in a row");
    assert.deepEqual(q.attempts, [0, 0, 0]);
    assert.equal(t.state.restarts, 2);
  });

  test("after maxRestarts failures in a row the backend is failed, with the exit and log tail in detail", () => {
    const p = policy({ maxRestarts: 2 });
    const ts = run(p, [launched(), crash(), backoff(), launched(), crash(), backoff(), launched(), crash(T0 + 9000, 3, null, "line one\nCUDA error: out of memory")]);
    const f = last(ts);
    assert.equal(f.state.phase, "failed");
    assert.deepEqual(f.effects, [], "no restart is scheduled");
    assert.equal(f.state.restarts, 2);
    assert.match(f.state.detail ?? "", /3 failures in a row/);
    assert.match(f.state.detail ?? "", /exited with code 3/);
    assert.match(f.state.detail ?? "", /CUDA error: out of memory/);
    // Nothing revives it but a stop.
    for (const e of [backoff(), launched(), healthOk(), crash()]) assert.equal(transition(f.state, e, p).state.phase, "failed");
    assert.equal(transition(f.state, { type: "stopRequested" }, p).state.phase, "stopping");
  });

  test("with maxRestarts 0 the first crash fails the backend", () => {
    const p = policy({ maxRestarts: 0 });
    const f = last(run(p, [launched(), healthOk(), crash(T0 + 500, 137)]));
    assert.equal(f.state.phase, "failed");
    assert.match(f.state.detail ?? "", /code 137/);
    assert.deepEqual(p.attempts, []);
  });

  test("a launch that fails counts like a crash", () => {
    const p = policy({ maxRestarts: 1 });
    const r = last(run(p, [{ type: "launchFailed", now: T0 + 5, reason: "engine exited with code 2 before listening" }]));
    assert.equal(r.state.phase, "restarting");
    assert.match(r.state.detail ?? "", /did not start: engine exited with code 2/);
    const f = last(run(p, [backoff(), { type: "launchFailed", now: T0 + 3000, reason: "again" }], r));
    assert.equal(f.state.phase, "failed");
  });

  test("a launch that cannot succeed on this node (its image is missing) fails the backend at once, without retries", () => {
    const p = policy({ maxRestarts: 5 });
    const f = last(run(p, [{ type: "launchFailed", now: T0 + 5, reason: "image x is not present on node n1", permanent: true }]));
    assert.equal(f.state.phase, "failed");
    assert.deepEqual(f.effects, []);
    assert.equal(f.state.detail, "engine cannot start: image x is not present on node n1");
    assert.deepEqual(p.attempts, []);
  });

  test("an engine not healthy by the startup deadline is killed and counted as a failure; its exit is then ignored", () => {
    const p = policy();
    const ts = run(p, [launched(), healthFailed(T0 + 4999), healthFailed(T0 + 5000, "/health answered 503")]);
    assert.equal(ts[2]?.state.phase, "starting");
    const r = last(ts);
    assert.equal(r.state.phase, "restarting");
    assert.deepEqual(r.effects, [{ type: "killEngine" }, { type: "scheduleRestart", delayMs: 100 }]);
    assert.match(r.state.detail ?? "", /not healthy within 5000 ms: \/health answered 503/);
    const after = transition(r.state, crash(T0 + 5100, null, "SIGTERM"), p);
    assert.equal(after.state, r.state, "the exit we caused is not a second failure");
  });

  test("a health failure while ready makes it not ready (not routable) until healthy again", () => {
    const p = policy();
    const ready = last(run(p, [launched(), healthOk(), { type: "loadScraped", load: { running: 1, waiting: 0, kvCacheUsage: 0.1 } }]));
    const sick = transition(ready.state, healthFailed(T0 + 1000, "/health answered 503"), p);
    assert.equal(sick.state.phase, "starting");
    assert.equal(sick.state.load, null);
    assert.equal(sick.state.deadline, T0 + 1000 + 5000);
    assert.deepEqual(sick.effects, [], "a failed probe alone kills nothing");
    assert.match(sick.state.detail ?? "", /not healthy: \/health answered 503/);
    const well = transition(sick.state, healthOk(T0 + 1100), p);
    assert.equal(well.state.phase, "ready");
    assert.equal(well.state.restarts, 0);
    // Staying sick past the startup timeout gets it restarted.
    const dead = transition(sick.state, healthFailed(T0 + 6000), p);
    assert.equal(dead.state.phase, "restarting");
    assert.deepEqual(dead.effects[0], { type: "killEngine" });
  });

  test("stop kills a running engine, cancels a pending restart, and undoes a launch that lands afterwards", () => {
    const p = policy();
    const ready = last(run(p, [launched(), healthOk()]));
    const stopping = transition(ready.state, { type: "stopRequested" }, p);
    assert.equal(stopping.state.phase, "stopping");
    assert.deepEqual(stopping.effects, [{ type: "killEngine" }]);
    assert.equal(transition(stopping.state, crash(), p).state.phase, "stopping");
    assert.equal(transition(stopping.state, { type: "stopRequested" }, p).effects.length, 0);

    const restarting = last(run(p, [launched(), crash()]));
    const s2 = transition(restarting.state, { type: "stopRequested" }, p);
    assert.deepEqual(s2.effects, [], "no engine to kill");
    assert.deepEqual(transition(s2.state, backoff(), p).effects, [], "the restart timer is void");

    const launching = initialTransition(T0, p);
    const s3 = transition(launching.state, { type: "stopRequested" }, p);
    assert.deepEqual(s3.effects, []);
    const late = transition(s3.state, launched(), p);
    assert.deepEqual(late.effects, [{ type: "killEngine" }]);
    assert.equal(late.state.phase, "stopping");
  });

  test("detail stays within the schema's limit and keeps the end of a long log", () => {
    const p = policy({ maxRestarts: 0 });
    const log = "x".repeat(50_000) + "THE-REAL-CAUSE";
    const f = last(run(p, [launched(), crash(T0 + 10, 1, null, log)]));
    assert.ok((f.state.detail ?? "").length <= DETAIL_MAX);
    assert.match(f.state.detail ?? "", /THE-REAL-CAUSE/);
  });
});

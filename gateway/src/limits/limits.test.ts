import { test } from "node:test";
import assert from "node:assert/strict";
import { AdmissionControl } from "./admission.js";
import { TenantRateLimiter } from "./rate-limit.js";

test("admission: beyond concurrency requests queue, beyond the queue they are shed", async () => {
  const a = new AdmissionControl(2, 1, 10_000);
  const r1 = await a.admit();
  const r2 = await a.admit();
  assert.ok(r1.ok && r2.ok);
  const queued = a.admit();
  assert.equal(a.queued, 1);
  assert.deepEqual(await a.admit(), { ok: false, reason: "queue_full" });
  if (r1.ok) r1.release();
  if (r1.ok) r1.release(); // idempotent
  const r3 = await queued;
  assert.equal(r3.ok, true);
  assert.equal(a.inflight, 2);
});

test("admission: a queued request times out, or leaves when its client does", async () => {
  const a = new AdmissionControl(1, 5, 20);
  const held = await a.admit();
  assert.deepEqual(await a.admit(), { ok: false, reason: "queue_timeout" });
  const ac = new AbortController();
  const p = a.admit(ac.signal);
  ac.abort();
  assert.deepEqual(await p, { ok: false, reason: "aborted" });
  assert.equal(a.queued, 0);
  if (held.ok) held.release();
  assert.equal(a.inflight, 0);
});

test("rate limits: requests per minute with refill, tokens charged after the answer", () => {
  let now = 0;
  const rl = new TenantRateLimiter(() => now);
  const limits = { requestsPerMinute: 2, tokensPerMinute: 100 };
  assert.deepEqual(rl.admit("t", limits), { ok: true });
  assert.deepEqual(rl.admit("t", limits), { ok: true });
  const third = rl.admit("t", limits);
  assert.equal(third.ok, false);
  if (!third.ok) {
    assert.equal(third.limit, "requests");
    assert.equal(third.retryAfterMs, 30_000);
  }
  assert.deepEqual(rl.admit("other", limits), { ok: true }, "tenants are separate");
  now += 30_000;
  assert.deepEqual(rl.admit("t", limits), { ok: true });
  rl.charge("t", limits, 250);
  now += 30_000;
  const tokens = rl.admit("t", limits);
  assert.equal(tokens.ok, false);
  if (!tokens.ok) assert.equal(tokens.limit, "tokens");
  assert.deepEqual(rl.admit("t", undefined), { ok: true });
});

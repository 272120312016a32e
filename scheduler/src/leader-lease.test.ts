import assert from "node:assert/strict";
import { describe, it } from "node:test";
import { createLogger, waitFor } from "@enclave/runtime";
import { Redis } from "ioredis";
import { LeaderLease } from "./leader-lease.js";
import { AssignmentStore } from "./reconcile/assignment-store.js";
import { keys } from "./redis-keys.js";
import { node } from "./testing/fixtures.js";
import { FakeNode, defer, startTestRedis, startTestScheduler, type TestScheduler, tokensOf } from "./testing/harness.js";

const EU = "eu-central-1";

async function leads(s: TestScheduler): Promise<boolean> {
  const text = await (await s.get("/metrics", { token: null })).text();
  return /^enclave_scheduler_leader\{[^}]*\} 1$/m.test(text);
}

describe("leader lease", () => {
  it("lets one of two schedulers on one Redis reconcile, and the other take over when it stops", async (t) => {
    const redis = await startTestRedis(t);
    const opts = { redisUrl: redis.url, nodes: ["eu-1"], deployments: [{ name: "chat", model: "org/chat", replicasPerRegion: { [EU]: 1 } }], nodeTtlMs: 5000 };
    const a = await startTestScheduler(t, opts);
    await waitFor(() => leads(a), { timeoutMs: 5000, what: "a to lead" });
    const b = await startTestScheduler(t, { ...opts, tokens: tokensOf(a) });
    new FakeNode(b, node("eu-1", EU, "EU")).start(t);
    // b serves reads (status written by a, nodes heartbeating to b) but does not lead.
    await waitFor(async () => {
      const r = (await (await b.get("/v1/deployments")).json()) as { deployments: { regions: { reason: string }[] }[] };
      return /replica 0 on eu-1/.test(r.deployments[0]?.regions[0]?.reason ?? "");
    }, { timeoutMs: 5000, what: "a's status read through b" });
    assert.equal(await leads(b), false);
    assert.equal(await leads(a), true);

    await a.scheduler.close();
    await waitFor(() => leads(b), { timeoutMs: 5000, what: "b to take over" });
  });
});

describe("leader lease fencing", () => {
  it("gives every holder a higher fencing token, and an ex-leader's writes fail once another holds the lease", async (t) => {
    const redis = await startTestRedis(t);
    const conn = new Redis(redis.url);
    defer(t, () => conn.disconnect());
    const log = createLogger("lease-test", "silent");
    const a = new LeaderLease(conn, keys.leader, keys.leaderFence, 300);
    const b = new LeaderLease(conn, keys.leader, keys.leaderFence, 300);
    assert.equal(await a.acquire(), true);
    assert.equal(await b.acquire(), false, "one holder at a time");
    assert.equal(await a.acquire(), true, "the holder renews");
    const store = new AssignmentStore(conn, log);
    const placed = { nodeId: "eu-1", gpus: ["GPU-eu-1-0"], generation: 0 };
    await store.apply(a.token!, null, new Map([["chat/eu-central-1/0", placed]]), []);

    // a stalls past its TTL (a long GC pause, a partition): b takes over.
    await waitFor(() => b.acquire(), { timeoutMs: 5000, what: "b to take the lease" });
    const fence = (l: LeaderLease) => Number(l.token!.split(":")[1]);
    assert.ok(fence(b) > Number(a.token!.split(":")[1]));
    const { version } = await store.read();
    await assert.rejects(store.apply(a.token!, version, new Map([["chat/eu-central-1/0", { ...placed, nodeId: "eu-2" }]]), []), /FENCED/);
    await assert.rejects(store.checkLease(a.token!), /FENCED/);
    assert.deepEqual((await store.all()).get("chat/eu-central-1/0"), placed, "the ex-leader changed nothing");
    await store.checkLease(b.token!);
    assert.equal(await a.acquire(), false, "and it cannot renew");

    // The leader itself: a plan made from an older read is refused, so a write never lands on changes it did not see.
    await store.apply(b.token!, version, new Map([["chat/eu-central-1/1", placed]]), []);
    await assert.rejects(store.apply(b.token!, version, new Map([["chat/eu-central-1/2", placed]]), []), /assignments changed since they were read/);
    assert.equal((await store.all()).size, 2);
  });
});

import assert from "node:assert/strict";
import { describe, it } from "node:test";
import { RouteTable } from "@enclave/contracts";
import { waitFor } from "@enclave/runtime";
import { Redis } from "ioredis";
import { backend, node } from "../testing/fixtures.js";
import { FakeNode, startTestRedis, startTestScheduler, type TestScheduler, defer, tokensOf } from "../testing/harness.js";

const EU = "eu-central-1";
const ref = { deployment: "chat", region: EU, replica: 0, generation: 0 };
const deployments = [{ name: "chat", model: "org/chat", replicasPerRegion: { [EU]: 1, "us-east-1": 0 } }];

async function routes(s: TestScheduler, query = ""): Promise<RouteTable> {
  const r = await s.get(`/v1/routes${query}`);
  assert.equal(r.status, 200, await r.clone().text());
  return RouteTable.parse(await r.json());
}

async function metric(s: TestScheduler, name: string): Promise<number> {
  const text = await (await s.get("/metrics", { token: null })).text();
  const m = new RegExp(`^${name}(?:\\{[^}]*\\})? (\\S+)$`, "m").exec(text);
  return m ? Number(m[1]) : NaN;
}

describe("route table API", () => {
  it("a long-poll returns within a second of the heartbeat that makes a backend ready, with a higher version", async (t) => {
    const redis = await startTestRedis(t);
    const s = await startTestScheduler(t, { redisUrl: redis.url, nodes: ["eu-1"], deployments, nodeTtlMs: 5000 });
    assert.equal((await s.heartbeat(node("eu-1", EU, "EU", { backends: [backend("eu-1", ref, { state: "starting" })] }))).status, 200);
    const before = await waitFor(async () => {
      const tb = await routes(s);
      return tb.version > 0 ? tb : undefined;
    }, { timeoutMs: 5000, what: "a first route table" });
    assert.deepEqual(before.models, [{ name: "org/chat", regions: [EU] }]);
    assert.deepEqual(before.entries, [], "a starting backend is not routable");

    const poll = routes(s, `?after=${before.version}`);
    let answered = false;
    void poll.then(() => (answered = true));
    // The poll is held while nothing changes (a repeated identical heartbeat changes nothing).
    assert.equal((await s.heartbeat(node("eu-1", EU, "EU", { backends: [backend("eu-1", ref, { state: "starting" })] }))).status, 200);
    await waitFor(async () => (await metric(s, "enclave_scheduler_route_watchers")) === 1, { timeoutMs: 3000, what: "the long-poll to wait" });
    assert.equal(answered, false);

    const sentAt = Date.now();
    const ready = backend("eu-1", ref, { baseUrl: "http://10.0.0.5:8000", load: { running: 2, waiting: 1, kvCacheUsage: 0.25 } });
    assert.equal((await s.heartbeat(node("eu-1", EU, "EU", { backends: [ready] }))).status, 200);
    const after = await poll;
    assert.ok(Date.now() - sentAt < 1000, `answered ${Date.now() - sentAt} ms after the heartbeat`);
    assert.ok(after.version > before.version);
    assert.deepEqual(after.entries, [
      {
        backendId: ready.id,
        nodeId: "eu-1",
        model: "org/chat",
        engine: "vllm",
        region: EU,
        jurisdiction: "EU",
        url: "http://10.0.0.5:8000",
        load: { running: 2, waiting: 1, kvCacheUsage: 0.25 },
        nodeState: "ready",
      },
    ]);
    assert.equal(await metric(s, "enclave_scheduler_route_table_version"), after.version);
  });

  it("answers at once when the caller is behind, waits at most waitMs otherwise, and checks its query", async (t) => {
    const redis = await startTestRedis(t);
    const s = await startTestScheduler(t, { redisUrl: redis.url, nodes: ["eu-1"], deployments });
    const first = await waitFor(async () => {
      const tb = await routes(s);
      return tb.version > 0 ? tb : undefined;
    }, { timeoutMs: 5000, what: "a first route table" });
    assert.equal((await routes(s, `?after=${first.version - 1}`)).version, first.version);

    const started = Date.now();
    const same = await routes(s, `?after=${first.version}&waitMs=300`);
    const took = Date.now() - started;
    assert.equal(same.version, first.version);
    assert.ok(took >= 250 && took < 5000, `held ${took} ms`);

    for (const q of ["?after=-1", "?after=abc", "?waitMs=1.5", "?after=1e3"]) {
      const r = await s.get(`/v1/routes${q}`);
      assert.equal(r.status, 400, q);
      assert.equal(((await r.json()) as { error: { code: string } }).error.code, "invalid_request");
    }
    assert.equal((await s.get("/v1/routes", { token: null })).status, 401);
    assert.equal((await s.get("/v1/routes", { token: s.nodeTokens.get("eu-1") ?? "" })).status, 403);
  });

  it("releases a watcher whose client hangs up, and answers waiting watchers when the server closes", async (t) => {
    const redis = await startTestRedis(t);
    const s = await startTestScheduler(t, { redisUrl: redis.url, nodes: ["eu-1"], deployments });
    const v = await waitFor(async () => (await routes(s)).version, { timeoutMs: 5000, what: "a first route table" });
    const never = 9_000_000_000_000_000;
    const ac = new AbortController();
    const abandoned = s.get(`/v1/routes?after=${never}`, { signal: ac.signal }).catch((e: Error) => e);
    await waitFor(async () => (await metric(s, "enclave_scheduler_route_watchers")) === 1, { timeoutMs: 3000, what: "one watcher" });
    ac.abort();
    assert.ok((await abandoned) instanceof Error);
    await waitFor(async () => (await metric(s, "enclave_scheduler_route_watchers")) === 0, { timeoutMs: 3000, what: "the watcher to go" });

    const held = routes(s, `?after=${never}`);
    await waitFor(async () => (await metric(s, "enclave_scheduler_route_watchers")) === 1, { timeoutMs: 3000, what: "one watcher" });
    const closing = Date.now();
    await s.scheduler.close();
    assert.equal((await held).version, v);
    assert.ok(Date.now() - closing < 3000, "close does not wait for the long-poll timeout");
  });

  it("drops a node that stops heartbeating after its TTL, and its backends leave the route table", async (t) => {
    const redis = await startTestRedis(t);
    const s = await startTestScheduler(t, { redisUrl: redis.url, nodes: ["eu-1", "eu-2"], deployments, nodeTtlMs: 1000 });
    const ref2 = { ...ref, replica: 1 };
    const eu1 = new FakeNode(s, node("eu-1", EU, "EU", { backends: [backend("eu-1", ref)] })).start(t);
    new FakeNode(s, node("eu-2", EU, "EU", { backends: [backend("eu-2", ref2)] })).start(t);
    const both = await waitFor(async () => {
      const tb = await routes(s);
      return tb.entries.length === 2 ? tb : undefined;
    }, { timeoutMs: 5000, what: "both backends routable" });

    await eu1.stop();
    const stoppedAt = Date.now();
    const after = await routes(s, `?after=${both.version}&waitMs=5000`);
    const took = Date.now() - stoppedAt;
    assert.deepEqual(after.entries.map((e) => e.nodeId), ["eu-2"]);
    assert.ok(after.version > both.version);
    assert.ok(took >= 700 && took < 2500, `node left ${took} ms after its last heartbeat (TTL 1000 ms)`);
    const nodes = (await (await s.get("/v1/nodes")).json()) as { nodes: { nodeId: string }[] };
    assert.deepEqual(nodes.nodes.map((n) => n.nodeId), ["eu-2"]);
  });

  it("keeps the version growing across restarts, even after Redis lost everything", async (t) => {
    const redis = await startTestRedis(t);
    const first = await startTestScheduler(t, { redisUrl: redis.url, nodes: ["eu-1"], deployments });
    await first.heartbeat(node("eu-1", EU, "EU", { backends: [backend("eu-1", ref)] }));
    const v1 = await waitFor(async () => {
      const tb = await routes(first);
      return tb.entries.length === 1 ? tb.version : undefined;
    }, { timeoutMs: 5000, what: "a routable backend" });
    const tokens = tokensOf(first);
    await first.scheduler.close();

    // Same content after a restart: the stored version is kept, not bumped, never lowered.
    const second = await startTestScheduler(t, { redisUrl: redis.url, nodes: ["eu-1"], deployments, tokens, nodeTtlMs: 5000 });
    await second.heartbeat(node("eu-1", EU, "EU", { backends: [backend("eu-1", ref)] }));
    const v2 = await waitFor(async () => {
      const tb = await routes(second);
      return tb.entries.length === 1 ? tb.version : undefined;
    }, { timeoutMs: 5000, what: "the stored table" });
    assert.equal(v2, v1);

    // A version far ahead of the clock, then Redis is wiped while the scheduler runs: it must not go back.
    const admin = new Redis(redis.url);
    defer(t, () => admin.disconnect());
    await admin.set("enclave:routes:version", String(v2 + 1e9));
    await second.heartbeat(node("eu-1", EU, "EU", { backends: [backend("eu-1", ref, { load: null })] }));
    const v3 = await waitFor(async () => {
      const tb = await routes(second);
      return tb.entries[0]?.load === null ? tb.version : undefined;
    }, { timeoutMs: 5000, what: "the changed table" });
    assert.equal(v3, v2 + 1e9 + 1);
    await admin.flushall();
    await second.heartbeat(node("eu-1", EU, "EU", { backends: [backend("eu-1", ref)] }));
    const v4 = await waitFor(async () => {
      const tb = await routes(second);
      return tb.entries[0]?.load !== null && tb.entries.length === 1 ? tb.version : undefined;
    }, { timeoutMs: 5000, what: "the table after the wipe" });
    assert.ok(v4 > v3, `${v4} > ${v3}`);
    await second.scheduler.close();

    // And a fresh scheduler on a wiped Redis starts above the last version any gateway saw from the clock.
    await admin.flushall();
    const third = await startTestScheduler(t, { redisUrl: redis.url, nodes: ["eu-1"], deployments, tokens });
    await third.heartbeat(node("eu-1", EU, "EU", { backends: [backend("eu-1", ref)] }));
    const v5 = await waitFor(async () => {
      const tb = await routes(third);
      return tb.entries.length === 1 ? tb.version : undefined;
    }, { timeoutMs: 5000, what: "a table on a wiped Redis" });
    assert.ok(v5 > v1, `${v5} > ${v1}`);
  });
});

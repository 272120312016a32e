import assert from "node:assert/strict";
import { describe, it } from "node:test";
import { RouteTable, nodeQueueName, startJobId } from "@enclave/contracts";
import { startRedisServer, waitFor } from "@enclave/runtime";
import { Queue } from "bullmq";
import { Redis } from "ioredis";
import { backend, node } from "./testing/fixtures.js";
import { FakeNode, startTestScheduler, defer } from "./testing/harness.js";
import { startRedisOnPort } from "./testing/redis-on-port.js";

const EU = "eu-central-1";
const ref = { deployment: "chat", region: EU, replica: 0, generation: 0 };

describe("scheduler without Redis", () => {
  it("stays up and not ready while Redis is away, keeps serving the last routes, and resumes when it is back", async (t) => {
    const first = await startRedisServer();
    let second: { stop(): Promise<void> } | undefined;
    defer(t, async () => {
      await first.stop();
      await second?.stop();
    });
    const s = await startTestScheduler(t, {
      redisUrl: first.url,
      nodes: ["eu-1"],
      deployments: [{ name: "chat", model: "org/chat", replicasPerRegion: { [EU]: 1 } }],
      nodeTtlMs: 5000,
    });
    const eu1 = new FakeNode(s, node("eu-1", EU, "EU", { backends: [backend("eu-1", ref)] })).start(t);
    const before = await waitFor(async () => {
      const tb = RouteTable.parse(await (await s.get("/v1/routes")).json());
      return tb.entries.length === 1 ? tb : undefined;
    }, { timeoutMs: 5000, what: "a routable backend" });
    assert.equal((await s.get("/readyz", { token: null })).status, 200);

    await first.stop();
    await waitFor(async () => (await s.get("/readyz", { token: null })).status === 503, { timeoutMs: 5000, what: "not ready" });
    const why = (await (await s.get("/readyz", { token: null })).json()) as { reason: string };
    assert.match(why.reason, /^redis is /);
    assert.equal((await s.get("/healthz", { token: null })).status, 200);
    const hb = await s.heartbeat(node("eu-1", EU, "EU"));
    assert.equal(hb.status, 503);
    assert.equal(((await hb.json()) as { error: { code: string } }).error.code, "unavailable");
    const stale = RouteTable.parse(await (await s.get("/v1/routes")).json());
    assert.deepEqual(stale, before, "the last good table is still served");
    assert.equal((await s.get("/v1/deployments")).status, 503);
    assert.equal((await s.get("/v1/nodes")).status, 503);

    // The same address comes back, empty (no persistence): heartbeats land, passes place the replica again.
    second = await startRedisOnPort(first.port);
    await waitFor(async () => (await s.get("/readyz", { token: null })).status === 200, { timeoutMs: 10000, what: "ready again" });
    const conn = new Redis(first.url, { maxRetriesPerRequest: null });
    const queue = new Queue(nodeQueueName("eu-1"), { connection: conn });
    defer(t, async () => {
      await queue.close();
      conn.disconnect();
    });
    // eu-1 still reports generation 0, which is adopted rather than started again.
    eu1.report = node("eu-1", EU, "EU", { backends: [backend("eu-1", ref, { load: null })] });
    const after = await waitFor(async () => {
      const tb = RouteTable.parse(await (await s.get("/v1/routes")).json());
      return tb.entries[0]?.load === null ? tb : undefined;
    }, { timeoutMs: 10000, what: "routes after Redis came back" });
    assert.ok(after.version > before.version);
    await waitFor(async () => {
      const r = await s.get("/v1/deployments");
      const body = (await r.json()) as { deployments: { regions: { state: string }[] }[] };
      return r.status === 200 && body.deployments[0]?.regions[0]?.state === "ready";
    }, { timeoutMs: 5000, what: "deployment ready again" });
    assert.equal(await queue.getJob(startJobId(ref)), undefined, "the running backend was adopted, not started twice");
  });
});

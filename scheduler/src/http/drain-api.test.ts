import assert from "node:assert/strict";
import { describe, it } from "node:test";
import { CapacityReport, CordonResult, NodeList, RouteTable, StartJob, nodeQueueName, startJobId, stopJobId, type ReplicaRef } from "@enclave/contracts";
import { waitFor } from "@enclave/runtime";
import { Queue } from "bullmq";
import { Redis } from "ioredis";
import { backend, node } from "../testing/fixtures.js";
import { FakeNode, defer, startTestRedis, startTestScheduler, type TestScheduler } from "../testing/harness.js";

const EU = "eu-central-1";
const US = "us-east-1";
const chat = { name: "chat", model: "org/chat", replicasPerRegion: { [EU]: 1 } };
const ref = (generation: number): ReplicaRef => ({ deployment: "chat", region: EU, replica: 0, generation });

async function nodes(s: TestScheduler): Promise<NodeList["nodes"]> {
  return NodeList.parse(await (await s.get("/v1/nodes")).json()).nodes;
}

describe("drain and uncordon", () => {
  it("moves a replica off a drained node with no dip: the replacement starts, becomes ready, then the old one stops", async (t) => {
    const redis = await startTestRedis(t);
    const conn = new Redis(redis.url, { maxRetriesPerRequest: null });
    const queues = new Map<string, Queue>();
    const q = (id: string) => queues.get(id) ?? queues.set(id, new Queue(nodeQueueName(id), { connection: conn })).get(id)!;
    defer(t, async () => {
      await Promise.all([...queues.values()].map((x) => x.close()));
      conn.disconnect();
    });
    const s = await startTestScheduler(t, { redisUrl: redis.url, nodes: ["eu-1", "eu-2", "us-1"], deployments: [chat], nodeTtlMs: 3000 });
    const eu1 = new FakeNode(s, node("eu-1", EU, "EU", { gpus: 2 })).start(t);
    const eu2 = new FakeNode(s, node("eu-2", EU, "EU", { gpus: 4 })).start(t);
    new FakeNode(s, node("us-1", US, "US", { gpus: 8 })).start(t);
    await waitFor(() => q("eu-1").getJob(startJobId(ref(0))), { timeoutMs: 5000, what: "placed on eu-1" });
    eu1.report = node("eu-1", EU, "EU", { gpus: 2, backends: [backend("eu-1", ref(0))] });
    await waitFor(async () => (await nodes(s)).find((n) => n.nodeId === "eu-1")?.replicas.length === 1, { timeoutMs: 5000, what: "eu-1 listed with its replica" });
    // The route table follows heartbeats within its refresh interval, later than the node list:
    // the "no dip" check below means something only once eu-1 is routable before the drain.
    await waitFor(async () => RouteTable.parse(await (await s.get("/v1/routes")).json()).entries.some((e) => e.nodeId === "eu-1" && e.nodeState === "ready"), { timeoutMs: 5000, what: "eu-1 routable before the drain" });

    const drained = await s.send("POST", "/v1/nodes/eu-1/drain", { reason: "BIOS update" });
    assert.equal(drained.status, 200);
    const body = CordonResult.parse(await drained.json());
    assert.deepEqual([body.nodeId, body.changed, body.cordon?.by, body.cordon?.reason], ["eu-1", true, "bob-operator", "BIOS update"]);
    const again = CordonResult.parse(await (await s.send("POST", "/v1/nodes/eu-1/drain")).json());
    assert.deepEqual([again.changed, again.cordon?.since], [false, body.cordon?.since], "draining twice keeps the first cordon");

    const job = await waitFor(() => q("eu-2").getJob(startJobId(ref(1))), { timeoutMs: 5000, what: "a replacement on eu-2" });
    assert.equal(StartJob.parse(job.data).replica.generation, 1);
    assert.equal(await q("eu-1").getJob(stopJobId(`eu-1/chat/${EU}/0/g0`)), undefined, "the old replica serves while the new one starts");
    const during = (await nodes(s)).find((n) => n.nodeId === "eu-1");
    assert.deepEqual([during?.state, during?.replicas], ["draining", [`chat/${EU}/0`]]);
    assert.deepEqual((await nodes(s)).find((n) => n.nodeId === "eu-2")?.replicas, [`chat/${EU}/0 (incoming)`]);
    const routes = RouteTable.parse(await (await s.get("/v1/routes")).json());
    assert.deepEqual(routes.entries.map((e) => [e.nodeId, e.nodeState]), [["eu-1", "ready"]], "still routable: no dip");

    eu2.report = node("eu-2", EU, "EU", { gpus: 4, backends: [backend("eu-2", ref(1), { gpus: StartJob.parse(job.data).gpus })] });
    await waitFor(() => q("eu-1").getJob(stopJobId(`eu-1/chat/${EU}/0/g0`)), { timeoutMs: 5000, what: "the old replica stopped" });
    await waitFor(async () => (await nodes(s)).find((n) => n.nodeId === "eu-1")?.state === "cordoned", { timeoutMs: 5000, what: "eu-1 drained" });
    // The agent has not stopped it yet: the drained node's backend is marked draining for the gateways.
    const after = await waitFor(async () => {
      const tb = RouteTable.parse(await (await s.get("/v1/routes")).json());
      return tb.entries.some((e) => e.nodeState === "draining") ? tb : undefined;
    }, { timeoutMs: 5000, what: "eu-1 marked draining in the route table" });
    assert.deepEqual(after.entries.map((e) => [e.nodeId, e.nodeState]), [["eu-1", "draining"], ["eu-2", "ready"]]);
    assert.deepEqual(await q("us-1").getJobCounts().then((c) => Object.values(c).reduce((a, b) => a + b, 0)), 0, "never another region");

    const un = CordonResult.parse(await (await s.send("POST", "/v1/nodes/eu-1/uncordon")).json());
    assert.deepEqual([un.changed, un.cordon], [true, null]);
    eu1.report = node("eu-1", EU, "EU", { gpus: 2 });
    await waitFor(async () => (await nodes(s)).find((n) => n.nodeId === "eu-1")?.state === "ready", { timeoutMs: 5000, what: "eu-1 ready again" });

    const records = await s.auditRecords();
    assert.deepEqual(
      records.map((r) => [r.action, r.nodeId, r.region, r.status, r.principal]),
      [
        ["node.drain", "eu-1", EU, 200, "bob-operator"],
        ["node.drain", "eu-1", EU, 200, "bob-operator"],
        ["node.uncordon", "eu-1", EU, 200, "bob-operator"],
      ],
    );
  });

  it("refuses unknown nodes, bad bodies and viewers", async (t) => {
    const redis = await startTestRedis(t);
    const s = await startTestScheduler(t, { redisUrl: redis.url, nodes: ["eu-1"] });
    const unknown = await s.send("POST", "/v1/nodes/nope/drain", {});
    assert.equal(unknown.status, 404);
    assert.deepEqual(((await unknown.json()) as { error: { message: string } }).error.message, 'no node "nope" is configured');
    assert.equal((await s.send("POST", "/v1/nodes/eu-1/drain", { reason: 5 })).status, 400);
    assert.equal((await s.send("POST", "/v1/nodes/eu-1/drain", { reasons: "typo" })).status, 400);
    assert.equal((await s.send("POST", "/v1/nodes/eu-1/drain", {}, { token: s.viewerToken })).status, 403);
    assert.equal((await s.send("POST", "/v1/nodes/eu-1/uncordon", undefined, { token: null })).status, 401);
    const not = CordonResult.parse(await (await s.send("POST", "/v1/nodes/eu-1/uncordon")).json());
    assert.equal(not.changed, false);
  });
});

describe("capacity API", () => {
  it("reports free GPUs per region and whether every replica survives losing the largest node", async (t) => {
    const redis = await startTestRedis(t);
    const two = { name: "two", model: "org/two", replicasPerRegion: { [EU]: 2 }, gpusPerReplica: 2 };
    const s = await startTestScheduler(t, { redisUrl: redis.url, nodes: ["eu-1", "eu-2"] });
    new FakeNode(s, node("eu-1", EU, "EU", { gpus: 4 })).start(t);
    new FakeNode(s, node("eu-2", EU, "EU", { gpus: 2 })).start(t);
    // Both nodes known before the deployment exists, so the first placement sees them both.
    await waitFor(async () => (await nodes(s)).length === 2, { timeoutMs: 5000, what: "two live nodes" });
    assert.equal((await s.send("PUT", "/v1/deployments/two", two)).status, 201);
    const report = await waitFor(async () => {
      const c = CapacityReport.parse(await (await s.get("/v1/capacity")).json());
      return c.regions[0]?.gpus.free === 2 ? c : undefined;
    }, { timeoutMs: 5000, what: "both replicas placed" });
    // Bin-pack filled eu-2 and half of eu-1; losing eu-1 (the largest) leaves no room for its replica.
    assert.deepEqual(report.regions, [
      {
        region: EU,
        nodes: 2,
        schedulableNodes: 2,
        gpus: { total: 6, healthy: 6, free: 2 },
        nPlusOne: {
          ok: false,
          largestNode: "eu-1",
          reason: `losing eu-1, 1 of 1 replicas would not fit: two/${EU}/1: ${EU}: 0/1 nodes available: 1 too few free healthy GPUs (need 2)`,
        },
      },
    ]);
    const metrics = await (await s.get("/metrics", { token: null })).text();
    assert.match(metrics, /enclave_scheduler_free_gpus\{region="eu-central-1",component="scheduler"\} 2/);
    assert.match(metrics, /enclave_scheduler_capacity_n_plus_one\{region="eu-central-1",component="scheduler"\} 0/);
  });
});

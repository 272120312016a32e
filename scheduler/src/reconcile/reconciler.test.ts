import assert from "node:assert/strict";
import { describe, it, type TestContext } from "node:test";
import { DeploymentStatusList, StartJob, StopJob, nodeQueueName, startJobId, stopJobId, type ReplicaRef } from "@enclave/contracts";
import { waitFor } from "@enclave/runtime";
import { Queue } from "bullmq";
import { Redis } from "ioredis";
import { backend, node } from "../testing/fixtures.js";
import { FakeNode, startTestRedis, startTestScheduler, type TestScheduler, defer, tokensOf } from "../testing/harness.js";

const EU = "eu-central-1";
const US = "us-east-1";
const chat = { name: "chat", model: "org/chat", replicasPerRegion: { [EU]: 1 }, jurisdiction: "EU" };
const ref = (generation: number): ReplicaRef => ({ deployment: "chat", region: EU, replica: 0, generation });

/** Reads node queues the way an agent's worker would see them. */
function queues(t: TestContext, url: string) {
  const conn = new Redis(url, { maxRetriesPerRequest: null });
  const open = new Map<string, Queue>();
  defer(t, async () => {
    await Promise.all([...open.values()].map((q) => q.close()));
    conn.disconnect();
  });
  const q = (nodeId: string) => {
    let x = open.get(nodeId);
    if (!x) {
      x = new Queue(nodeQueueName(nodeId), { connection: conn });
      open.set(nodeId, x);
    }
    return x;
  };
  return {
    job: (nodeId: string, id: string) => q(nodeId).getJob(id),
    total: async (nodeId: string) => Object.values(await q(nodeId).getJobCounts()).reduce((a, b) => a + b, 0),
    /** Any key BullMQ would have written for this node's queue. */
    keys: (nodeId: string) => conn.keys(`bull:${nodeQueueName(nodeId)}:*`),
  };
}

async function status(s: TestScheduler): Promise<DeploymentStatusList> {
  const r = await s.get("/v1/deployments");
  assert.equal(r.status, 200);
  return DeploymentStatusList.parse(await r.json());
}

describe("reconcile loop", () => {
  it("places in the region, moves to the other node of that region when a node dies, and never to another region", async (t) => {
    const redis = await startTestRedis(t);
    const q = queues(t, redis.url);
    const s = await startTestScheduler(t, { redisUrl: redis.url, nodes: ["eu-1", "eu-2", "us-1"], deployments: [chat], nodeTtlMs: 1000, reconcileIntervalMs: 100 });
    const eu1 = new FakeNode(s, node("eu-1", EU, "EU", { gpus: 2 })).start(t);
    const eu2 = new FakeNode(s, node("eu-2", EU, "EU", { gpus: 4 })).start(t);
    new FakeNode(s, node("us-1", US, "US", { gpus: 8 })).start(t);

    // Bin-pack picks the EU node with fewer GPUs.
    const first = await waitFor(() => q.job("eu-1", startJobId(ref(0))), { timeoutMs: 5000, what: "a start job on eu-1" });
    const job0 = StartJob.parse(first.data);
    assert.deepEqual(job0, { kind: "start", replica: ref(0), model: "org/chat", engine: "vllm", args: [], gpus: ["GPU-eu-1-0"] });
    assert.equal(first.name, "start");
    assert.equal(first.opts.attempts, 3);
    assert.equal(await q.total("eu-2"), 0);

    // eu-1 runs it; the deployment becomes ready.
    eu1.report = node("eu-1", EU, "EU", { gpus: 2, backends: [backend("eu-1", ref(0), { model: "org/chat" })] });
    await waitFor(async () => (await status(s)).deployments[0]?.regions[0]?.state === "ready", { timeoutMs: 5000, what: "ready" });
    const ready = await status(s);
    assert.deepEqual(ready.deployments, [{ name: "chat", model: "org/chat", generation: 1, regions: [{ region: EU, desired: 1, ready: 1, state: "ready", reason: "" }] }]);

    // eu-1 goes silent: after its TTL the replica is placed again on eu-2 with generation 1.
    await eu1.stop();
    const moved = await waitFor(() => q.job("eu-2", startJobId(ref(1))), { timeoutMs: 5000, what: "a start job with generation 1 on eu-2" });
    assert.deepEqual(StartJob.parse(moved.data).replica, ref(1));
    assert.equal(await q.total("eu-1"), 1, "nothing more was sent to the dead node");
    const progressing = (await status(s)).deployments[0]?.regions[0];
    assert.equal(progressing?.state, "progressing");
    assert.match(progressing?.reason ?? "", /replica 0 on eu-2/);

    // eu-2 goes silent too: no EU node is left, the deployment is degraded and says why.
    await eu2.stop();
    const degraded = await waitFor(async () => {
      const r = (await status(s)).deployments[0]?.regions[0];
      return r?.state === "degraded" ? r : undefined;
    }, { timeoutMs: 5000, what: "degraded" });
    assert.deepEqual(degraded, {
      region: EU,
      desired: 1,
      ready: 0,
      state: "degraded",
      reason: `1/1 replicas unplaced: ${EU}: 0/1 nodes available: 1 in another region`,
    });

    // Through all of it, not one job (nor even a queue key) for the US node.
    // (Keys first: opening a queue to count its jobs writes a meta key.)
    assert.deepEqual(await q.keys("us-1"), []);
    assert.equal(await q.total("us-1"), 0);
    const metrics = await (await s.get("/metrics", { token: null })).text();
    assert.match(metrics, /enclave_scheduler_replicas\{deployment="chat",region="eu-central-1",state="unplaced",component="scheduler"\} 1/);
    assert.match(metrics, /enclave_scheduler_placement_failures_total\{deployment="chat",region="eu-central-1",component="scheduler"\} [1-9]/);
    assert.match(metrics, /enclave_scheduler_nodes\{region="us-east-1",component="scheduler"\} 1/);
    assert.match(metrics, /enclave_scheduler_reconcile_duration_seconds_count\{component="scheduler"\} [1-9]/);
    assert.match(metrics, /enclave_scheduler_leader\{component="scheduler"\} 1/);
  });

  it("sends a stop job for a backend no placement explains, and a failed backend is replaced with the next generation", async (t) => {
    const redis = await startTestRedis(t);
    const q = queues(t, redis.url);
    const s = await startTestScheduler(t, { redisUrl: redis.url, nodes: ["eu-1"], deployments: [chat] });
    const ghost = backend("eu-1", { deployment: "ghost", region: EU, replica: 0, generation: 0 }, { gpus: ["GPU-eu-1-3"] });
    const eu1 = new FakeNode(s, node("eu-1", EU, "EU", { backends: [ghost] })).start(t);

    const stop = await waitFor(() => q.job("eu-1", stopJobId(ghost.id)), { timeoutMs: 5000, what: "a stop job" });
    assert.deepEqual(StopJob.parse(stop.data), { kind: "stop", backendId: ghost.id, reason: "deployment ghost is not configured" });
    const start = await waitFor(() => q.job("eu-1", startJobId(ref(0))), { timeoutMs: 5000, what: "a start job" });
    assert.ok(!StartJob.parse(start.data).gpus.includes("GPU-eu-1-3"), "the ghost's GPU is not handed out");

    eu1.report = node("eu-1", EU, "EU", { backends: [backend("eu-1", ref(0), { state: "failed", detail: "exited 1" })] });
    const next = await waitFor(() => q.job("eu-1", startJobId(ref(1))), { timeoutMs: 5000, what: "generation 1" });
    assert.equal(StartJob.parse(next.data).replica.generation, 1);
    const stopFailed = await waitFor(() => q.job("eu-1", stopJobId(`eu-1/chat/${EU}/0/g0`)), { timeoutMs: 5000, what: "a stop for the failed backend" });
    assert.equal(StopJob.parse(stopFailed.data).reason, "replaced by generation 1 on eu-1");
  });

  it("re-sends a lost start job, and a restarted scheduler keeps its placements", async (t) => {
    const redis = await startTestRedis(t);
    const q = queues(t, redis.url);
    const opts = { redisUrl: redis.url, nodes: ["eu-1", "eu-2"], deployments: [chat], nodeTtlMs: 3000 };
    const s1 = await startTestScheduler(t, opts);
    const eu1 = new FakeNode(s1, node("eu-1", EU, "EU")).start(t);
    const eu2 = new FakeNode(s1, node("eu-2", EU, "EU")).start(t);
    const job = await waitFor(() => q.job("eu-1", startJobId(ref(0))), { timeoutMs: 5000, what: "a start job" });

    await job.remove();
    await waitFor(() => q.job("eu-1", startJobId(ref(0))), { timeoutMs: 5000, what: "the lost job sent again" });

    await eu1.stop();
    await eu2.stop();
    await s1.scheduler.close();
    const s2 = await startTestScheduler(t, { ...opts, tokens: tokensOf(s1) });
    new FakeNode(s2, node("eu-1", EU, "EU", { backends: [backend("eu-1", ref(0))] })).start(t);
    new FakeNode(s2, node("eu-2", EU, "EU")).start(t);
    await waitFor(async () => (await status(s2)).deployments[0]?.regions[0]?.state === "ready", { timeoutMs: 5000, what: "ready after restart" });
    assert.equal(await q.job("eu-1", startJobId(ref(1))), undefined);
    assert.equal(await q.total("eu-2"), 0);
  });
});

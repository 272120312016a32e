import assert from "node:assert/strict";
import { describe, it } from "node:test";
import { backendId, type ReplicaAssignment, type ReplicaRef } from "@enclave/contracts";
import { backend, deployment, gpu, node } from "../testing/fixtures.js";
import { planReconcile } from "./plan-reconcile.js";

const EU = "eu-central-1";
const US = "us-east-1";
const chat = deployment({ name: "chat", replicasPerRegion: { [EU]: 1 }, jurisdiction: "EU" });
const key = "chat/eu-central-1/0";
const ref = (generation: number, replica = 0, region = EU, dep = "chat"): ReplicaRef => ({ deployment: dep, region, replica, generation });
const at = (nodeId: string | null, generation: number, gpus = nodeId ? [`GPU-${nodeId}-0`] : []): ReplicaAssignment => ({ nodeId, gpus, generation });
/** Where each changed replica went, without the bookkeeping fields (template, placedAt, failures). */
const core = (m: ReadonlyMap<string, ReplicaAssignment>) => new Map([...m].map(([k, a]) => [k, { nodeId: a.nodeId, gpus: a.gpus, generation: a.generation }]));

describe("planReconcile", () => {
  it("places a new replica in its region, stores it and sends a start job", () => {
    const plan = planReconcile({
      deployments: [chat],
      nodes: [node("us-1", US, "US", { gpus: 8 }), node("eu-2", EU, "EU"), node("eu-1", EU, "EU")],
      assignments: new Map(),
    });
    assert.deepEqual(core(plan.changed), new Map([[key, at("eu-1", 0)]]));
    assert.deepEqual(plan.starts, [
      { nodeId: "eu-1", job: { kind: "start", replica: ref(0), model: "org/chat", engine: "vllm", args: [], gpus: ["GPU-eu-1-0"] } },
    ]);
    assert.deepEqual([plan.stops, plan.startRepairs, plan.removed, plan.unplaced], [[], [], [], []]);
    assert.deepEqual(plan.status, [
      { name: "chat", model: "org/chat", regions: [{ region: EU, desired: 1, ready: 0, state: "progressing", reason: "1/1 replicas not ready: replica 0 on eu-1: start queued" }] },
    ]);
  });

  it("leaves a standing placement alone and reports it ready", () => {
    const plan = planReconcile({
      deployments: [chat],
      nodes: [node("eu-1", EU, "EU", { backends: [backend("eu-1", ref(3))] }), node("eu-2", EU, "EU")],
      assignments: new Map([[key, at("eu-1", 3)]]),
    });
    assert.deepEqual([plan.changed.size, plan.starts, plan.startRepairs, plan.stops], [0, [], [], []]);
    assert.deepEqual(plan.status[0]?.regions, [{ region: EU, desired: 1, ready: 1, state: "ready", reason: "" }]);
  });

  it("re-sends the same start job for a placed replica its node does not report yet", () => {
    const plan = planReconcile({ deployments: [chat], nodes: [node("eu-1", EU, "EU")], assignments: new Map([[key, at("eu-1", 2)]]) });
    assert.equal(plan.changed.size, 0);
    assert.deepEqual(plan.starts, []);
    assert.deepEqual(plan.startRepairs.map((s) => [s.nodeId, s.job.replica.generation, s.job.gpus]), [["eu-1", 2, ["GPU-eu-1-0"]]]);
  });

  it("moves a replica off a vanished node to another node of the same region with the next generation, never elsewhere", () => {
    const plan = planReconcile({
      deployments: [chat],
      nodes: [node("us-1", US, "EU", { gpus: 8 }), node("eu-2", EU, "EU")],
      assignments: new Map([[key, at("eu-1", 0)]]),
    });
    assert.deepEqual(plan.moved, [{ key, fromNode: "eu-1", reason: "node eu-1 is gone" }]);
    assert.deepEqual(core(plan.changed), new Map([[key, at("eu-2", 1)]]));
    assert.deepEqual(plan.starts.map((s) => [s.nodeId, s.job.replica.generation]), [["eu-2", 1]]);
  });

  it("with no node left in the region: unplaced, degraded with the reason, nothing sent anywhere, generation kept", () => {
    const plan = planReconcile({
      deployments: [chat],
      nodes: [node("us-1", US, "US", { gpus: 8 })],
      assignments: new Map([[key, at("eu-1", 4)]]),
    });
    const reason = `${EU}: 0/1 nodes available: 1 in another region`;
    assert.deepEqual(plan.starts, []);
    assert.deepEqual(plan.stops, []);
    assert.deepEqual(core(plan.changed), new Map([[key, at(null, 4)]]));
    assert.deepEqual(plan.unplaced, [{ key, deployment: "chat", region: EU, reason }]);
    assert.deepEqual(plan.status[0]?.regions, [{ region: EU, desired: 1, ready: 0, state: "degraded", reason: `1/1 replicas unplaced: ${reason}` }]);
  });

  it("an unplaced replica gets a newer generation than any earlier placement once a node returns", () => {
    const plan = planReconcile({ deployments: [chat], nodes: [node("eu-1", EU, "EU")], assignments: new Map([[key, at(null, 4)]]) });
    assert.deepEqual(core(plan.changed), new Map([[key, at("eu-1", 5)]]));
    assert.deepEqual(plan.starts.map((s) => s.job.replica.generation), [5]);
  });

  it("an unplaced replica that still does not fit is not rewritten", () => {
    const plan = planReconcile({ deployments: [chat], nodes: [], assignments: new Map([[key, at(null, 4)]]) });
    assert.equal(plan.changed.size, 0);
    assert.equal(plan.status[0]?.regions[0]?.state, "degraded");
  });

  it("replaces a failed backend with the next generation and stops the failed one", () => {
    const failed = backend("eu-1", ref(0), { state: "failed", detail: "exited 1" });
    const plan = planReconcile({
      deployments: [chat],
      nodes: [node("eu-1", EU, "EU", { backends: [failed] }), node("eu-2", EU, "EU")],
      assignments: new Map([[key, at("eu-1", 0)]]),
    });
    assert.deepEqual(plan.moved, [{ key, fromNode: "eu-1", reason: "backend failed on node eu-1: exited 1" }]);
    // eu-1's GPU 0 is still held by the failed backend: bin-pack prefers eu-1 (fewer left) but not that GPU.
    assert.deepEqual(core(plan.changed), new Map([[key, at("eu-1", 1, ["GPU-eu-1-1"])]]));
    assert.deepEqual(plan.stops, [{ nodeId: "eu-1", job: { kind: "stop", backendId: failed.id, reason: "replaced by generation 1 on eu-1" } }]);
  });

  it("moves a replica off a failed GPU and off a failed node", () => {
    const gpus = [gpu("eu-1", 0, { health: { state: "failed", reasons: ["ecc"] } }), gpu("eu-1", 1)];
    const plan = planReconcile({
      deployments: [chat, deployment({ name: "b", replicasPerRegion: { [EU]: 1 } })],
      nodes: [node("eu-1", EU, "EU", { gpus }), node("eu-2", EU, "EU", { health: "failed" }), node("eu-3", EU, "EU")],
      assignments: new Map([
        [key, at("eu-1", 0)],
        ["b/eu-central-1/0", at("eu-2", 0)],
      ]),
    });
    assert.deepEqual(plan.moved.map((m) => m.reason), ["GPU GPU-eu-1-0 failed on node eu-1", "node eu-2 failed"]);
    assert.deepEqual(plan.starts.map((s) => [s.nodeId, s.job.gpus]), [
      ["eu-1", ["GPU-eu-1-1"]],
      ["eu-3", ["GPU-eu-3-0"]],
    ]);
  });

  it("moves a replica off a node outside the deployment's jurisdiction", () => {
    const plan = planReconcile({
      deployments: [chat],
      nodes: [node("eu-1", EU, "CH"), node("eu-2", EU, "EU")],
      assignments: new Map([[key, at("eu-1", 0)]]),
    });
    assert.deepEqual(plan.moved.map((m) => m.reason), ["node eu-1 is not under EU jurisdiction"]);
    assert.deepEqual(plan.starts.map((s) => s.nodeId), ["eu-2"]);
  });

  it("stops backends no placement explains and forgets replicas no longer desired", () => {
    const ghost = backend("eu-1", ref(0, 0, EU, "ghost"));
    const beyond = backend("eu-1", ref(0, 1), { gpus: ["GPU-eu-1-1"] });
    const oldGen = backend("eu-2", ref(0), { gpus: ["GPU-eu-2-0"] });
    const current = backend("eu-1", ref(1), { gpus: ["GPU-eu-1-2"] });
    const plan = planReconcile({
      deployments: [chat],
      nodes: [node("eu-1", EU, "EU", { backends: [ghost, beyond, current] }), node("eu-2", EU, "EU", { backends: [oldGen] })],
      assignments: new Map([
        [key, at("eu-1", 1, ["GPU-eu-1-2"])],
        ["chat/eu-central-1/1", at("eu-1", 0, ["GPU-eu-1-1"])],
      ]),
    });
    assert.deepEqual(plan.removed, ["chat/eu-central-1/1"]);
    assert.deepEqual(plan.stops, [
      { nodeId: "eu-1", job: { kind: "stop", backendId: ghost.id, reason: "deployment ghost is not configured" } },
      { nodeId: "eu-1", job: { kind: "stop", backendId: beyond.id, reason: `replica 1 not desired (${EU} wants 1)` } },
      { nodeId: "eu-2", job: { kind: "stop", backendId: oldGen.id, reason: "replaced by generation 1 on eu-1" } },
    ]);
    assert.deepEqual([plan.starts, plan.startRepairs], [[], []]);
  });

  it("never hands out a GPU twice: promised GPUs and GPUs of reported backends are taken", () => {
    const big = deployment({ name: "big", replicasPerRegion: { [EU]: 2 }, gpusPerReplica: 2 });
    const small = deployment({ name: "small", replicasPerRegion: { [EU]: 3 } });
    const stray = backend("eu-1", ref(0, 0, EU, "stray"), { gpus: ["GPU-eu-1-3"] });
    const plan = planReconcile({
      deployments: [big, small],
      nodes: [node("eu-1", EU, "EU", { backends: [stray] }), node("eu-2", EU, "EU")],
      assignments: new Map([["small/eu-central-1/0", at("eu-2", 0, ["GPU-eu-2-1"])]]),
    });
    const used = new Map<string, string>([["GPU-eu-2-1", "small/0"], ["GPU-eu-1-3", "stray"]]);
    for (const s of plan.starts) {
      for (const g of s.job.gpus) {
        assert.ok(g.startsWith(`GPU-${s.nodeId}-`), `${g} belongs to ${s.nodeId}`);
        assert.ok(!used.has(g), `${g} handed to ${s.job.replica.deployment}/${s.job.replica.replica} and ${used.get(g)}`);
        used.set(g, `${s.job.replica.deployment}/${s.job.replica.replica}`);
      }
    }
    assert.equal(plan.starts.length, 4);
    assert.deepEqual(plan.unplaced, []);
    // 8 GPUs: 2×2 for big, 3×1 for small, 1 for stray; all distinct.
    assert.equal(used.size, 8);
  });

  it("bin-packs by default and spreads the replicas of one deployment when configured to", () => {
    const two = deployment({ name: "two", replicasPerRegion: { [EU]: 2, [US]: 1 } });
    const input = { deployments: [two], nodes: [node("eu-1", EU, "EU"), node("eu-2", EU, "EU"), node("us-1", US, "US")], assignments: new Map() };
    const where = (p: ReturnType<typeof planReconcile>) => p.starts.map((s) => [s.job.replica.region, s.job.replica.replica, s.nodeId]);
    assert.deepEqual(where(planReconcile(input)), [
      [EU, 0, "eu-1"],
      [EU, 1, "eu-1"],
      [US, 0, "us-1"],
    ]);
    assert.deepEqual(where(planReconcile({ ...input, options: { strategy: "spread" } })), [
      [EU, 0, "eu-1"],
      [EU, 1, "eu-2"],
      [US, 0, "us-1"],
    ]);
  });

  it("adopts a running backend of a replica with no record instead of starting another", () => {
    const running = backend("eu-2", ref(7));
    const plan = planReconcile({ deployments: [chat], nodes: [node("eu-1", EU, "EU"), node("eu-2", EU, "EU", { backends: [running] })], assignments: new Map() });
    assert.deepEqual(core(plan.changed), new Map([[key, at("eu-2", 7)]]));
    assert.deepEqual([plan.starts, plan.stops], [[], []]);
    assert.equal(plan.status[0]?.regions[0]?.state, "ready");
  });

  it("keeps the running backend of an unplaced replica when its node comes back, but not an older generation", () => {
    const back = planReconcile({
      deployments: [chat],
      nodes: [node("eu-1", EU, "EU", { backends: [backend("eu-1", ref(4))] })],
      assignments: new Map([[key, at(null, 4)]]),
    });
    assert.deepEqual(core(back.changed), new Map([[key, at("eu-1", 4)]]));
    assert.deepEqual([back.starts, back.stops], [[], []]);

    const stale = planReconcile({
      deployments: [chat],
      nodes: [node("eu-1", EU, "EU", { backends: [backend("eu-1", ref(3))] })],
      assignments: new Map([[key, at(null, 4)]]),
    });
    assert.deepEqual(stale.starts.map((s) => [s.nodeId, s.job.replica.generation, s.job.gpus]), [["eu-1", 5, ["GPU-eu-1-1"]]]);
    assert.deepEqual(stale.stops.map((s) => s.job.backendId), [backendId("eu-1", ref(3))]);
  });

  it("does not adopt a backend on a failed GPU", () => {
    const gpus = [gpu("eu-1", 0, { health: { state: "failed", reasons: ["ecc"] } }), gpu("eu-1", 1)];
    const plan = planReconcile({ deployments: [chat], nodes: [node("eu-1", EU, "EU", { gpus, backends: [backend("eu-1", ref(0))] })], assignments: new Map() });
    assert.deepEqual(plan.starts.map((s) => [s.job.replica.generation, s.job.gpus]), [[1, ["GPU-eu-1-1"]]]);
  });

  it("does not adopt a backend that serves another model, and stops it", () => {
    const wrong = backend("eu-1", ref(0), { model: "org/other" });
    const plan = planReconcile({ deployments: [chat], nodes: [node("eu-1", EU, "EU", { backends: [wrong] })], assignments: new Map() });
    // Generation 1: reusing 0 would give the new backend the id of the wrong one.
    assert.deepEqual(plan.starts.map((s) => [s.nodeId, s.job.replica.generation, s.job.gpus]), [["eu-1", 1, ["GPU-eu-1-1"]]]);
    assert.deepEqual(plan.stops.map((s) => s.job.backendId), [backendId("eu-1", ref(0))]);
  });

  it("a replica count of zero is desired nowhere and reported ready", () => {
    const none = deployment({ name: "none", replicasPerRegion: { [EU]: 0 } });
    const plan = planReconcile({ deployments: [none], nodes: [node("eu-1", EU, "EU")], assignments: new Map() });
    assert.deepEqual(plan.starts, []);
    assert.deepEqual(plan.status[0]?.regions, [{ region: EU, desired: 0, ready: 0, state: "ready", reason: "" }]);
  });
});

import assert from "node:assert/strict";
import { describe, it } from "node:test";
import { backendId, type ReplicaAssignment, type ReplicaRef } from "@enclave/contracts";
import { backend, deployment, gpu, node } from "../testing/fixtures.js";
import { engineTemplate } from "./engine-template.js";
import { planReconcile, type ReconcileInput } from "./plan-reconcile.js";

const EU = "eu-central-1";
const US = "us-east-1";
const NOW = 1_700_000_000_000;
const chat = deployment({ name: "chat", replicasPerRegion: { [EU]: 1 } });
const T = engineTemplate(chat);
const key = "chat/eu-central-1/0";
const ref = (generation: number, replica = 0): ReplicaRef => ({ deployment: "chat", region: EU, replica, generation });
const placed = (nodeId: string, generation: number, over: Partial<ReplicaAssignment> = {}): ReplicaAssignment => ({
  nodeId,
  gpus: [`GPU-${nodeId}-0`],
  generation,
  template: T,
  placedAt: NOW - 1000,
  ...over,
});
const plan = (input: Omit<ReconcileInput, "now"> & { now?: number }) => planReconcile({ now: NOW, ...input });

describe("planReconcile: moving replicas without a capacity dip", () => {
  it("drain: a cordoned node's replica gets a replacement in its region first; the old one keeps serving", () => {
    const p = plan({
      deployments: [chat],
      nodes: [node("eu-1", EU, "EU", { backends: [backend("eu-1", ref(0))] }), node("eu-2", EU, "EU"), node("us-1", US, "US", { gpus: 8 })],
      assignments: new Map([[key, placed("eu-1", 0)]]),
      cordoned: new Set(["eu-1"]),
    });
    assert.deepEqual(p.stops, [], "nothing stops before the replacement serves");
    assert.deepEqual(p.starts.map((s) => [s.nodeId, s.job.replica.generation]), [["eu-2", 1]]);
    const a = p.changed.get(key);
    assert.equal(a?.nodeId, "eu-1", "the serving placement stays");
    assert.deepEqual([a?.next?.nodeId, a?.next?.generation], ["eu-2", 1]);
    assert.deepEqual(p.surges, [{ key, fromNode: "eu-1", toNode: "eu-2", reason: "node eu-1 is cordoned" }]);
    assert.deepEqual(p.drainRemaining, new Map([["eu-1", 1]]));
    assert.deepEqual(p.status[0]?.regions[0], {
      region: EU,
      desired: 1,
      ready: 1,
      state: "progressing",
      reason: "1/1 replicas ready, moving: replica 0 moving off eu-1 (node eu-1 is cordoned): replacement on eu-2 start queued",
    });
  });

  it("drain: while the replacement starts nothing changes; once it is ready it takes over and the old backend is stopped", () => {
    const assignments = new Map([[key, placed("eu-1", 0, { next: { nodeId: "eu-2", gpus: ["GPU-eu-2-0"], generation: 1, template: T, placedAt: NOW - 500 } })]]);
    const old = backend("eu-1", ref(0));
    const waiting = plan({
      deployments: [chat],
      nodes: [node("eu-1", EU, "EU", { backends: [old] }), node("eu-2", EU, "EU", { backends: [backend("eu-2", ref(1), { state: "starting" })] })],
      assignments,
      cordoned: new Set(["eu-1"]),
    });
    assert.deepEqual([waiting.changed.size, waiting.starts, waiting.startRepairs, waiting.stops], [0, [], [], []]);
    assert.equal(waiting.status[0]?.regions[0]?.ready, 1);

    const done = plan({
      deployments: [chat],
      nodes: [node("eu-1", EU, "EU", { backends: [old] }), node("eu-2", EU, "EU", { backends: [backend("eu-2", ref(1))] })],
      assignments,
      cordoned: new Set(["eu-1"]),
    });
    assert.deepEqual(done.changed.get(key), { nodeId: "eu-2", gpus: ["GPU-eu-2-0"], generation: 1, template: T, placedAt: NOW - 500 });
    assert.deepEqual(done.promoted, [{ key, fromNode: "eu-1", toNode: "eu-2", reason: "node eu-1 is cordoned" }]);
    assert.deepEqual(done.stops, [{ nodeId: "eu-1", job: { kind: "stop", backendId: old.id, reason: "replaced by generation 1 on eu-2" } }]);
    assert.deepEqual(done.drainRemaining, new Map([["eu-1", 0]]));
    assert.deepEqual(done.status[0]?.regions[0], { region: EU, desired: 1, ready: 1, state: "ready", reason: "" });
  });

  it("uncordon before the replacement is ready: the replacement is dropped and stopped, the original stays", () => {
    const p = plan({
      deployments: [chat],
      nodes: [node("eu-1", EU, "EU", { backends: [backend("eu-1", ref(0))] }), node("eu-2", EU, "EU", { backends: [backend("eu-2", ref(1), { state: "starting" })] })],
      assignments: new Map([[key, placed("eu-1", 0, { next: { nodeId: "eu-2", gpus: ["GPU-eu-2-0"], generation: 1, template: T, placedAt: NOW } })]]),
    });
    assert.deepEqual(p.changed.get(key), placed("eu-1", 0));
    assert.deepEqual(p.stops.map((s) => s.job.backendId), [backendId("eu-2", ref(1))]);
    assert.deepEqual(p.starts, []);
  });

  it("a drain with no room in the region keeps the replica serving, says why, and never looks at another region", () => {
    const p = plan({
      deployments: [chat],
      nodes: [node("eu-1", EU, "EU", { backends: [backend("eu-1", ref(0))] }), node("us-1", US, "US", { gpus: 8 })],
      assignments: new Map([[key, placed("eu-1", 0)]]),
      cordoned: new Set(["eu-1"]),
    });
    assert.deepEqual([p.starts, p.stops, p.changed.size], [[], [], 0]);
    const blocked = `${EU}: 0/2 nodes available: 1 in another region, 1 node cordoned`;
    assert.deepEqual(p.surges, [{ key, fromNode: "eu-1", toNode: null, reason: "node eu-1 is cordoned", blocked }]);
    assert.equal(p.status[0]?.regions[0]?.state, "progressing");
    assert.match(p.status[0]?.regions[0]?.reason ?? "", /cannot move off eu-1 \(node eu-1 is cordoned\), it keeps serving/);
  });

  it("moves one replica of a deployment per region at a time", () => {
    const two = deployment({ name: "chat", replicasPerRegion: { [EU]: 2 } });
    const p = plan({
      deployments: [two],
      nodes: [
        node("eu-1", EU, "EU", { backends: [backend("eu-1", ref(0)), backend("eu-1", ref(0, 1), { gpus: ["GPU-eu-1-1"] })] }),
        node("eu-2", EU, "EU"),
      ],
      assignments: new Map([
        [key, placed("eu-1", 0)],
        ["chat/eu-central-1/1", placed("eu-1", 0, { gpus: ["GPU-eu-1-1"] })],
      ]),
      cordoned: new Set(["eu-1"]),
    });
    assert.deepEqual(p.starts.map((s) => [s.nodeId, s.job.replica.replica]), [["eu-2", 0]]);
    assert.deepEqual(p.surges.map((s) => [s.key, s.toNode, s.blocked ?? ""]), [
      [key, "eu-2", ""],
      ["chat/eu-central-1/1", null, "waiting for another replica of this deployment to finish moving"],
    ]);
  });

  it("rolling update: new engine settings start a replacement with them; placement-only changes restart nothing", () => {
    const v2 = deployment({ name: "chat", replicasPerRegion: { [EU]: 1 }, args: ["--max-model-len", "8192"] });
    const nodes = [node("eu-1", EU, "EU", { backends: [backend("eu-1", ref(0))] })];
    const p = plan({ deployments: [v2], nodes, assignments: new Map([[key, placed("eu-1", 0)]]) });
    assert.deepEqual(p.stops, []);
    assert.deepEqual(p.starts.map((s) => [s.nodeId, s.job.replica.generation, s.job.args, s.job.gpus]), [["eu-1", 1, ["--max-model-len", "8192"], ["GPU-eu-1-1"]]]);
    assert.equal(p.changed.get(key)?.next?.template, engineTemplate(v2));

    const scaled = deployment({ name: "chat", replicasPerRegion: { [EU]: 1, [US]: 0 }, jurisdiction: "EU", allowDegraded: true });
    assert.equal(engineTemplate(scaled), T);
    const q = plan({ deployments: [scaled], nodes, assignments: new Map([[key, placed("eu-1", 0)]]) });
    assert.deepEqual([q.starts, q.stops, q.surges, q.changed.size], [[], [], [], 0]);
  });

  it("a placement with stale settings that never started is replaced at once", () => {
    const v2 = deployment({ name: "chat", replicasPerRegion: { [EU]: 1 }, image: "vllm/vllm-openai:v2" });
    const p = plan({ deployments: [v2], nodes: [node("eu-1", EU, "EU")], assignments: new Map([[key, placed("eu-1", 0)]]) });
    assert.deepEqual(p.moved, [{ key, fromNode: "eu-1", reason: "engine settings changed before it started" }]);
    assert.deepEqual(p.starts.map((s) => [s.job.replica.generation, s.job.image]), [[1, "vllm/vllm-openai:v2"]]);
    assert.deepEqual(p.startRepairs, [], "the stale job is never re-sent");
  });

  it("a GPU whose health turned unknown is a reason to move, not to drop: the replica keeps serving meanwhile", () => {
    const gpus = [gpu("eu-1", 0, { health: { state: "unknown", reasons: ["nvidia-smi hung"] } }), gpu("eu-1", 1)];
    const p = plan({
      deployments: [chat],
      nodes: [node("eu-1", EU, "EU", { gpus, backends: [backend("eu-1", ref(0))] }), node("eu-2", EU, "EU")],
      assignments: new Map([[key, placed("eu-1", 0)]]),
    });
    assert.deepEqual(p.moved, []);
    assert.deepEqual(p.stops, []);
    assert.deepEqual(p.surges.map((s) => [s.reason, s.toNode]), [["GPU GPU-eu-1-0 health unknown on node eu-1", "eu-1"]]);
    assert.deepEqual(p.starts.map((s) => s.job.gpus), [["GPU-eu-1-1"]]);
  });

  it("when the old placement falls while its replacement is on its way, the replacement takes over at once", () => {
    const p = plan({
      deployments: [chat],
      nodes: [node("eu-2", EU, "EU", { backends: [backend("eu-2", ref(1), { state: "starting" })] }), node("eu-3", EU, "EU")],
      assignments: new Map([[key, placed("eu-1", 0, { next: { nodeId: "eu-2", gpus: ["GPU-eu-2-0"], generation: 1, template: T, placedAt: NOW } })]]),
      cordoned: new Set(["eu-1"]),
    });
    assert.deepEqual(p.moved, [{ key, fromNode: "eu-1", reason: "node eu-1 is gone" }]);
    assert.deepEqual(p.changed.get(key), { nodeId: "eu-2", gpus: ["GPU-eu-2-0"], generation: 1, template: T, placedAt: NOW });
    assert.deepEqual(p.starts, []);
  });

  it("a node that no longer matches the deployment's selectors is left the same way", () => {
    const pinned = deployment({ name: "chat", replicasPerRegion: { [EU]: 1 }, selectors: { nodes: ["eu-2"] } });
    const p = plan({ deployments: [pinned], nodes: [node("eu-1", EU, "EU", { backends: [backend("eu-1", ref(0))] }), node("eu-2", EU, "EU")], assignments: new Map([[key, placed("eu-1", 0)]]) });
    assert.deepEqual(p.surges.map((s) => [s.reason, s.toNode]), [["node eu-1 no longer matches selectors.nodes", "eu-2"]]);
    assert.deepEqual(p.stops, []);
  });
});

describe("planReconcile: replicas that keep failing", () => {
  const backoff = { initialMs: 10_000, maxMs: 40_000 };
  const failedOn = (nodeId: string, generation: number) => node(nodeId, EU, "EU", { backends: [backend(nodeId, ref(generation), { state: "failed", detail: "exited 1" })] });

  it("the first failure is placed again at once; the next ones wait, doubling up to the maximum, and say so", () => {
    const first = plan({ deployments: [chat], nodes: [failedOn("eu-1", 0)], assignments: new Map([[key, placed("eu-1", 0)]]), options: { backoff } });
    const a1 = first.changed.get(key);
    assert.deepEqual([a1?.nodeId, a1?.generation, a1?.failures, a1?.retryAt], ["eu-1", 1, 1, undefined]);
    assert.equal(first.starts.length, 1);

    const second = plan({ deployments: [chat], nodes: [failedOn("eu-1", 1)], assignments: new Map([[key, a1!]]), options: { backoff } });
    const a2 = second.changed.get(key);
    assert.deepEqual([a2?.nodeId, a2?.failures, a2?.retryAt, a2?.generation], [null, 2, NOW + 10_000, 1]);
    assert.deepEqual(second.starts, []);
    assert.deepEqual(second.stops.map((s) => s.job.backendId), [backendId("eu-1", ref(1))], "the failed backend is stopped");
    assert.deepEqual(second.status[0]?.regions[0], {
      region: EU,
      desired: 1,
      ready: 0,
      state: "degraded",
      reason: "1/1 replicas unplaced: backing off after 2 failed placements in a row (last: backend failed on node eu-1: exited 1); next try in 10 s",
    });

    const early = plan({ deployments: [chat], nodes: [node("eu-1", EU, "EU")], assignments: new Map([[key, a2!]]), now: NOW + 9_000, options: { backoff } });
    assert.deepEqual([early.starts, early.changed.size], [[], 0], "nothing before retryAt");
    const due = plan({ deployments: [chat], nodes: [node("eu-1", EU, "EU")], assignments: new Map([[key, a2!]]), now: NOW + 10_000, options: { backoff } });
    const a3 = due.changed.get(key);
    assert.deepEqual([a3?.nodeId, a3?.generation, a3?.failures, a3?.retryAt], ["eu-1", 2, 2, undefined]);

    const third = plan({ deployments: [chat], nodes: [failedOn("eu-1", 2)], assignments: new Map([[key, a3!]]), now: NOW + 20_000, options: { backoff } });
    assert.equal(third.changed.get(key)?.retryAt, NOW + 20_000 + 20_000);
    const many = plan({ deployments: [chat], nodes: [failedOn("eu-1", 2)], assignments: new Map([[key, { ...a3!, failures: 9 }]]), options: { backoff } });
    assert.equal(many.changed.get(key)?.retryAt, NOW + 40_000, "capped at the maximum");
  });

  it("a ready backend clears the failure count", () => {
    const p = plan({
      deployments: [chat],
      nodes: [node("eu-1", EU, "EU", { backends: [backend("eu-1", ref(3))] })],
      assignments: new Map([[key, placed("eu-1", 3, { failures: 2, lastFailure: "exited 1" })]]),
    });
    assert.deepEqual(p.changed.get(key), placed("eu-1", 3));
  });

  it("a placement its node never reports is placed again after the start timeout, counted as a failure", () => {
    const input = { deployments: [chat], nodes: [node("eu-1", EU, "EU"), node("eu-2", EU, "EU")], options: { startTimeoutMs: 60_000 } };
    const young = plan({ ...input, assignments: new Map([[key, placed("eu-1", 0, { placedAt: NOW - 59_000 })]]) });
    assert.deepEqual([young.moved, young.starts.length, young.startRepairs.length], [[], 0, 1], "re-sent, not replaced, within the timeout");
    const old = plan({ ...input, assignments: new Map([[key, placed("eu-1", 0, { placedAt: NOW - 61_000 })]]) });
    assert.deepEqual(old.moved, [{ key, fromNode: "eu-1", reason: "node eu-1 has not reported it within 60 s of its placement" }]);
    assert.deepEqual([old.changed.get(key)?.generation, old.changed.get(key)?.failures], [1, 1]);
  });
});

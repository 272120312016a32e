import assert from "node:assert/strict";
import { describe, it } from "node:test";
import type { ReplicaAssignment } from "@enclave/contracts";
import { backend, deployment, gpu, node } from "../testing/fixtures.js";
import { capacityReport, type CapacityInput } from "./capacity-report.js";

const EU = "eu-central-1";
const US = "us-east-1";
const at = (nodeId: string, gpus: string[]): ReplicaAssignment => ({ nodeId, gpus, generation: 0 });
const report = (over: Partial<CapacityInput>) => capacityReport({ deployments: [], nodes: [], assignments: new Map(), cordoned: new Set(), strategy: "binpack", now: 1, ...over });

describe("capacityReport", () => {
  it("N+1 holds when the largest node's replicas fit on the others", () => {
    const dep = deployment({ name: "d", replicasPerRegion: { [EU]: 2 } });
    const r = report({
      deployments: [dep],
      nodes: [node("big", EU, "EU", { gpus: 8 }), node("small", EU, "EU", { gpus: 2 })],
      assignments: new Map([
        ["d/eu-central-1/0", at("big", ["GPU-big-0"])],
        ["d/eu-central-1/1", at("small", ["GPU-small-0"])],
      ]),
    });
    assert.deepEqual(r.regions, [{ region: EU, nodes: 2, schedulableNodes: 2, gpus: { total: 10, healthy: 10, free: 8 }, nPlusOne: { ok: true, largestNode: "big", reason: "" } }]);
  });

  it("N+1 fails, naming the replicas, when the rest of the region has no room; never counts another region's room", () => {
    const dep = deployment({ name: "d", replicasPerRegion: { [EU]: 1 }, gpusPerReplica: 4 });
    const r = report({
      deployments: [dep],
      nodes: [node("big", EU, "EU", { gpus: 8 }), node("small", EU, "EU", { gpus: 2 }), node("us", US, "US", { gpus: 8 })],
      assignments: new Map([["d/eu-central-1/0", at("big", ["GPU-big-0", "GPU-big-1", "GPU-big-2", "GPU-big-3"])]]),
    });
    const eu = r.regions.find((x) => x.region === EU);
    assert.deepEqual(eu?.nPlusOne, {
      ok: false,
      largestNode: "big",
      reason: `losing big, 1 of 1 replicas would not fit: d/${EU}/0: ${EU}: 0/1 nodes available: 1 too few free healthy GPUs (need 4)`,
    });
    assert.deepEqual(r.regions.find((x) => x.region === US)?.nPlusOne, { ok: true, largestNode: "us", reason: "" });
  });

  it("replicas that would not fit for the same reason are named together", () => {
    const dep = deployment({ name: "d", replicasPerRegion: { [EU]: 3 } });
    const r = report({
      deployments: [dep],
      nodes: [node("only", EU, "EU", { gpus: 8 })],
      assignments: new Map([0, 1, 2].map((i) => [`d/eu-central-1/${i}`, at("only", [`GPU-only-${i}`])])),
    });
    assert.equal(r.regions[0]?.nPlusOne.reason, `losing only, 3 of 3 replicas would not fit: d/${EU}/0, d/${EU}/1, d/${EU}/2: ${EU}: 0/0 nodes available: no live nodes`);
  });

  it("free GPUs leave out cordoned and unhealthy nodes, unhealthy GPUs, and GPUs held by placements or running backends", () => {
    const r = report({
      nodes: [
        node("a", EU, "EU", { gpus: [gpu("a", 0), gpu("a", 1, { health: { state: "degraded", reasons: [] } }), gpu("a", 2), gpu("a", 3)], backends: [backend("a", { deployment: "x", region: EU, replica: 0, generation: 0 }, { gpus: ["GPU-a-2"] })] }),
        node("b", EU, "EU", { gpus: 2 }),
        node("c", EU, "EU", { gpus: 2, health: "unknown" }),
      ],
      assignments: new Map([["y/eu-central-1/0", { ...at("a", ["GPU-a-0"]), next: { nodeId: "a", gpus: ["GPU-a-3"], generation: 1 } }]]),
      cordoned: new Set(["b"]),
    });
    assert.deepEqual(r.regions[0]?.gpus, { total: 8, healthy: 3, free: 0 });
    assert.equal(r.regions[0]?.schedulableNodes, 1);
  });

  it("a region with replicas that are already unplaced fails N+1, and so does one without nodes", () => {
    const dep = deployment({ name: "d", replicasPerRegion: { [EU]: 1, [US]: 1 } });
    const r = report({ deployments: [dep], nodes: [node("a", EU, "EU")], assignments: new Map([["d/eu-central-1/0", { nodeId: null, gpus: [], generation: 0 }]]) });
    assert.deepEqual(
      r.regions.map((x) => [x.region, x.nodes, x.nPlusOne]),
      [
        [EU, 1, { ok: false, largestNode: "a", reason: `1 replicas already unplaced (d/${EU}/0)` }],
        [US, 0, { ok: false, largestNode: null, reason: `1 replicas already unplaced (d/${US}/0)` }],
      ],
    );
  });
});

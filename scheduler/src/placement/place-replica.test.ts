import assert from "node:assert/strict";
import { describe, it } from "node:test";
import type { Deployment, NodeReport } from "@enclave/contracts";
import { deployment, gpu, node } from "../testing/fixtures.js";
import { placeReplica } from "./place-replica.js";
import type { PlacementStrategy, TakenGpus } from "./types.js";

const EU = "eu-central-1";
const US = "us-east-1";
const none: TakenGpus = new Map();
const noReplicas = new Map<string, number>();

interface Case {
  name: string;
  dep: Deployment;
  region?: string;
  nodes: NodeReport[];
  taken?: TakenGpus;
  replicasByNode?: Map<string, number>;
  cordoned?: string[];
  strategy?: PlacementStrategy;
  want: { nodeId: string; gpus: string[] } | { reason: string };
}

const cases: Case[] = [
  {
    name: "region is hard: a US node with room is never chosen for an EU replica",
    dep: deployment({ name: "m", replicasPerRegion: { [EU]: 1 } }),
    nodes: [node("us-1", US, "US")],
    want: { reason: `${EU}: 0/1 nodes available: 1 in another region` },
  },
  {
    name: "region: picks the node of the asked region among others",
    dep: deployment({ name: "m", replicasPerRegion: { [EU]: 1 } }),
    nodes: [node("a-us", US, "US"), node("z-eu", EU, "EU")],
    want: { nodeId: "z-eu", gpus: ["GPU-z-eu-0"] },
  },
  {
    name: "jurisdiction: a node of the right region but the wrong law is skipped",
    dep: deployment({ name: "m", replicasPerRegion: { [EU]: 1 }, jurisdiction: "EU" }),
    nodes: [node("a", EU, "US"), node("b", EU, "EU")],
    want: { nodeId: "b", gpus: ["GPU-b-0"] },
  },
  {
    name: "jurisdiction unset: any jurisdiction in the region will do",
    dep: deployment({ name: "m", replicasPerRegion: { [EU]: 1 } }),
    nodes: [node("a", EU, "US")],
    want: { nodeId: "a", gpus: ["GPU-a-0"] },
  },
  {
    name: "unhealthy GPUs (degraded, failed, unknown) are skipped",
    dep: deployment({ name: "m", replicasPerRegion: { [EU]: 1 } }),
    nodes: [
      node("a", EU, "EU", {
        gpus: [
          gpu("a", 0, { health: { state: "failed", reasons: ["ecc"] } }),
          gpu("a", 1, { health: { state: "degraded", reasons: ["throttle"] } }),
          gpu("a", 2, { health: { state: "unknown", reasons: [] } }),
          gpu("a", 3),
        ],
      }),
    ],
    want: { nodeId: "a", gpus: ["GPU-a-3"] },
  },
  {
    name: "failed and unknown nodes take nothing; degraded nodes do",
    dep: deployment({ name: "m", replicasPerRegion: { [EU]: 1 } }),
    nodes: [node("a", EU, "EU", { health: "failed" }), node("b", EU, "EU", { health: "unknown" }), node("c", EU, "EU", { health: "degraded" })],
    want: { nodeId: "c", gpus: ["GPU-c-0"] },
  },
  {
    name: "VRAM: a GPU with less free memory than the deployment needs is skipped",
    dep: deployment({ name: "m", replicasPerRegion: { [EU]: 1 }, vramPerGpuMiB: 40000 }),
    nodes: [node("a", EU, "EU", { gpus: [gpu("a", 0, { memoryUsedMiB: 50000 }), gpu("a", 1, { memoryTotalMiB: 40000 })] })],
    want: { nodeId: "a", gpus: ["GPU-a-1"] },
  },
  {
    name: "multi-GPU replicas need all their GPUs on one node",
    dep: deployment({ name: "m", replicasPerRegion: { [EU]: 1 }, gpusPerReplica: 2 }),
    nodes: [node("a", EU, "EU", { gpus: 1 }), node("b", EU, "EU", { gpus: 1 }), node("c", EU, "EU", { gpus: 3 })],
    want: { nodeId: "c", gpus: ["GPU-c-0", "GPU-c-1"] },
  },
  {
    name: "taken GPUs are never handed out twice",
    dep: deployment({ name: "m", replicasPerRegion: { [EU]: 1 }, gpusPerReplica: 2 }),
    nodes: [node("a", EU, "EU", { gpus: 3 }), node("b", EU, "EU", { gpus: 4 })],
    taken: new Map([
      ["a", new Set(["GPU-a-0", "GPU-a-1"])],
      ["b", new Set(["GPU-b-1"])],
    ]),
    want: { nodeId: "b", gpus: ["GPU-b-0", "GPU-b-2"] },
  },
  {
    name: "bin-pack (the default) fills the fuller node even if it already holds a replica of this deployment",
    dep: deployment({ name: "m", replicasPerRegion: { [EU]: 2 } }),
    nodes: [node("a", EU, "EU", { gpus: 2 }), node("b", EU, "EU", { gpus: 8 })],
    taken: new Map([["a", new Set(["GPU-a-0"])]]),
    replicasByNode: new Map([["a", 1]]),
    want: { nodeId: "a", gpus: ["GPU-a-1"] },
  },
  {
    name: "spread: the node without a replica of this deployment wins over the fuller one",
    dep: deployment({ name: "m", replicasPerRegion: { [EU]: 2 } }),
    nodes: [node("a", EU, "EU", { gpus: 2 }), node("b", EU, "EU", { gpus: 8 })],
    taken: new Map([["a", new Set(["GPU-a-0"])]]),
    replicasByNode: new Map([["a", 1]]),
    strategy: "spread",
    want: { nodeId: "b", gpus: ["GPU-b-0"] },
  },
  {
    name: "spread: with equal spread, the emptiest node is chosen",
    dep: deployment({ name: "m", replicasPerRegion: { [EU]: 1 } }),
    nodes: [node("a", EU, "EU", { gpus: 2 }), node("b", EU, "EU", { gpus: 8 }), node("c", EU, "EU", { gpus: 4 })],
    strategy: "spread",
    want: { nodeId: "b", gpus: ["GPU-b-0"] },
  },
  {
    name: "bin-pack: with equal free GPUs, spread breaks the tie",
    dep: deployment({ name: "m", replicasPerRegion: { [EU]: 2 } }),
    nodes: [node("a", EU, "EU", { gpus: 4 }), node("b", EU, "EU", { gpus: 4 })],
    replicasByNode: new Map([["a", 1]]),
    want: { nodeId: "b", gpus: ["GPU-b-0"] },
  },
  {
    name: "a cordoned node takes no replica, however well it fits",
    dep: deployment({ name: "m", replicasPerRegion: { [EU]: 1 } }),
    nodes: [node("a", EU, "EU", { gpus: 1 }), node("b", EU, "EU", { gpus: 8 })],
    cordoned: ["a"],
    want: { nodeId: "b", gpus: ["GPU-b-0"] },
  },
  {
    name: "selectors.nodes: only matching node ids (globs) are candidates",
    dep: deployment({ name: "m", replicasPerRegion: { [EU]: 1 }, selectors: { nodes: ["gpu-big-*", "exact-1"] } }),
    nodes: [node("gpu-small-1", EU, "EU", { gpus: 1 }), node("gpu-big-7", EU, "EU", { gpus: 8 }), node("exact-10", EU, "EU", { gpus: 2 })],
    want: { nodeId: "gpu-big-7", gpus: ["GPU-gpu-big-7-0"] },
  },
  {
    name: "selectors.gpuModels: only GPUs whose model contains one of the strings, case-insensitively",
    dep: deployment({ name: "m", replicasPerRegion: { [EU]: 1 }, gpusPerReplica: 2, selectors: { gpuModels: ["h200"] } }),
    nodes: [
      node("mixed", EU, "EU", { gpus: [gpu("mixed", 0), gpu("mixed", 1, { name: "NVIDIA H200" }), gpu("mixed", 2)] }),
      node("h200", EU, "EU", { gpus: [gpu("h200", 0, { name: "NVIDIA H200" }), gpu("h200", 1, { name: "NVIDIA H200" }), gpu("h200", 2, { name: "NVIDIA H200" })] }),
    ],
    want: { nodeId: "h200", gpus: ["GPU-h200-0", "GPU-h200-1"] },
  },
  {
    name: "allowDegraded: degraded GPUs may take a replica; failed and unknown still never",
    dep: deployment({ name: "m", replicasPerRegion: { [EU]: 1 }, gpusPerReplica: 2, allowDegraded: true }),
    nodes: [
      node("a", EU, "EU", {
        gpus: [
          gpu("a", 0, { health: { state: "failed", reasons: ["ecc"] } }),
          gpu("a", 1, { health: { state: "degraded", reasons: ["throttle"] } }),
          gpu("a", 2, { health: { state: "unknown", reasons: [] } }),
          gpu("a", 3),
        ],
      }),
    ],
    want: { nodeId: "a", gpus: ["GPU-a-1", "GPU-a-3"] },
  },
  {
    name: "reason names cordons and selectors",
    dep: deployment({ name: "m", replicasPerRegion: { [EU]: 1 }, selectors: { nodes: ["b"], gpuModels: ["H200"] }, allowDegraded: true }),
    nodes: [node("a", EU, "EU"), node("b", EU, "EU"), node("c", EU, "EU")],
    cordoned: ["c"],
    want: { reason: `${EU}: 0/3 nodes available: 1 node cordoned, 1 not selected by selectors.nodes, 1 too few free healthy or degraded H200 GPUs (need 1)` },
  },
  {
    name: "bin-pack: with equal spread, the node left with the fewest free GPUs is chosen",
    dep: deployment({ name: "m", replicasPerRegion: { [EU]: 1 } }),
    nodes: [node("a", EU, "EU", { gpus: 8 }), node("b", EU, "EU", { gpus: 2 }), node("c", EU, "EU", { gpus: 4 })],
    want: { nodeId: "b", gpus: ["GPU-b-0"] },
  },
  {
    name: "ties are broken by node id",
    dep: deployment({ name: "m", replicasPerRegion: { [EU]: 1 } }),
    nodes: [node("n2", EU, "EU"), node("n1", EU, "EU"), node("n3", EU, "EU")],
    want: { nodeId: "n1", gpus: ["GPU-n1-0"] },
  },
  {
    name: "reason counts every node under its first failing filter, most frequent first",
    dep: deployment({ name: "m", replicasPerRegion: { [EU]: 1 }, gpusPerReplica: 2, jurisdiction: "EU" }),
    nodes: [node("a", EU, "EU", { gpus: 1 }), node("b", EU, "EU", { gpus: 0 }), node("c", EU, "US", { gpus: 8 })],
    want: { reason: `${EU}: 0/3 nodes available: 2 too few free healthy GPUs (need 2), 1 wrong jurisdiction (need EU)` },
  },
  {
    name: "reason mentions VRAM when the deployment asks for it",
    dep: deployment({ name: "m", replicasPerRegion: { [EU]: 1 }, vramPerGpuMiB: 90000 }),
    nodes: [node("a", EU, "EU"), node("b", EU, "EU", { health: "failed" }), node("u", US, "US")],
    want: { reason: `${EU}: 0/3 nodes available: 1 in another region, 1 node health failed, 1 too few free healthy GPUs with ≥ 90000 MiB free (need 1)` },
  },
  {
    name: "no live nodes at all",
    dep: deployment({ name: "m", replicasPerRegion: { [EU]: 1 } }),
    nodes: [],
    want: { reason: `${EU}: 0/0 nodes available: no live nodes` },
  },
];

describe("placeReplica", () => {
  for (const c of cases) {
    it(c.name, () => {
      const got = placeReplica(
        { deployment: c.dep, region: c.region ?? EU, nodes: c.nodes, taken: c.taken ?? none, replicasByNode: c.replicasByNode ?? noReplicas, cordoned: new Set(c.cordoned) },
        { strategy: c.strategy ?? "binpack" },
      );
      if ("reason" in c.want) assert.deepEqual(got, { ok: false, reason: c.want.reason });
      else assert.deepEqual(got, { ok: true, ...c.want });
    });
  }

  it("keeps region hard even with a caller-supplied filter list that forgets it", () => {
    const dep = deployment({ name: "m", replicasPerRegion: { [EU]: 1 } });
    const got = placeReplica({ deployment: dep, region: EU, nodes: [node("us-1", US, "US")], taken: none, replicasByNode: noReplicas }, { filters: [] });
    assert.equal(got.ok, false);
  });

  it("counts nodes the caller left out as in another region, and never picks one that slipped in", () => {
    const dep = deployment({ name: "m", replicasPerRegion: { [EU]: 1 } });
    const got = placeReplica({ deployment: dep, region: EU, nodes: [node("eu-1", EU, "EU", { gpus: 0 })], elsewhere: 5, taken: none, replicasByNode: noReplicas });
    assert.deepEqual(got, { ok: false, reason: `${EU}: 0/6 nodes available: 5 in another region, 1 too few free healthy GPUs (need 1)` });
    const slipped = placeReplica({ deployment: dep, region: EU, nodes: [node("us-1", US, "US", { gpus: 8 })], taken: none, replicasByNode: noReplicas });
    assert.equal(slipped.ok, false);
  });

  it("places successive replicas without sharing a GPU when the caller records each result", () => {
    const dep = deployment({ name: "m", replicasPerRegion: { [EU]: 3 }, gpusPerReplica: 2 });
    const nodes = [node("a", EU, "EU", { gpus: 4 }), node("b", EU, "EU", { gpus: 2 })];
    const taken = new Map<string, Set<string>>();
    const counts = new Map<string, number>();
    const placed: string[] = [];
    for (let i = 0; i < 3; i++) {
      const r = placeReplica({ deployment: dep, region: EU, nodes, taken, replicasByNode: counts });
      assert.ok(r.ok, `replica ${i}`);
      placed.push(r.nodeId);
      const set = taken.get(r.nodeId) ?? new Set();
      for (const g of r.gpus) {
        assert.ok(!set.has(g), `GPU ${g} handed out twice`);
        set.add(g);
      }
      taken.set(r.nodeId, set);
      counts.set(r.nodeId, (counts.get(r.nodeId) ?? 0) + 1);
    }
    // Bin-pack puts the first on the smaller node (filling it), the next two on the other one.
    assert.deepEqual(placed, ["b", "a", "a"]);
    const fourth = placeReplica({ deployment: dep, region: EU, nodes, taken, replicasByNode: counts });
    assert.deepEqual(fourth, { ok: false, reason: `${EU}: 0/2 nodes available: 2 too few free healthy GPUs (need 2)` });
  });
});

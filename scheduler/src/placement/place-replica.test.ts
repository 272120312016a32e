import assert from "node:assert/strict";
import { describe, it } from "node:test";
import type { Deployment, NodeReport } from "@enclave/contracts";
import { deployment, gpu, node } from "../testing/fixtures.js";
import { placeReplica } from "./place-replica.js";
import type { TakenGpus } from "./types.js";

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
    name: "spread wins over bin-pack: the node without a replica of this deployment is chosen",
    dep: deployment({ name: "m", replicasPerRegion: { [EU]: 2 } }),
    nodes: [node("a", EU, "EU", { gpus: 2 }), node("b", EU, "EU", { gpus: 8 })],
    taken: new Map([["a", new Set(["GPU-a-0"])]]),
    replicasByNode: new Map([["a", 1]]),
    want: { nodeId: "b", gpus: ["GPU-b-0"] },
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
    want: { reason: `${EU}: 0/3 nodes available: 1 in another region, 1 node health failed, 1 too few free healthy GPUs with 90000 MiB free (need 1)` },
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
      const got = placeReplica(c.dep, c.region ?? EU, c.nodes, c.taken ?? none, c.replicasByNode ?? noReplicas);
      if ("reason" in c.want) assert.deepEqual(got, { ok: false, reason: c.want.reason });
      else assert.deepEqual(got, { ok: true, ...c.want });
    });
  }

  it("keeps region hard even with a caller-supplied filter list that forgets it", () => {
    const dep = deployment({ name: "m", replicasPerRegion: { [EU]: 1 } });
    const got = placeReplica(dep, EU, [node("us-1", US, "US")], none, noReplicas, { filters: [] });
    assert.equal(got.ok, false);
  });

  it("places successive replicas without sharing a GPU when the caller records each result", () => {
    const dep = deployment({ name: "m", replicasPerRegion: { [EU]: 3 }, gpusPerReplica: 2 });
    const nodes = [node("a", EU, "EU", { gpus: 4 }), node("b", EU, "EU", { gpus: 2 })];
    const taken = new Map<string, Set<string>>();
    const counts = new Map<string, number>();
    const placed: string[] = [];
    for (let i = 0; i < 3; i++) {
      const r = placeReplica(dep, EU, nodes, taken, counts);
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
    // Bin-pack puts the first on the smaller node, spread the second on the other one.
    assert.deepEqual(placed, ["b", "a", "a"]);
    const fourth = placeReplica(dep, EU, nodes, taken, counts);
    assert.deepEqual(fourth, { ok: false, reason: `${EU}: 0/2 nodes available: 2 too few free healthy GPUs (need 2)` });
  });
});

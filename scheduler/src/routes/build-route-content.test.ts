import assert from "node:assert/strict";
import { describe, it } from "node:test";
import { backend, deployment, node } from "../testing/fixtures.js";
import { buildRouteContent } from "./build-route-content.js";
import { drainedOf } from "./drained-nodes.js";
import { BackendLoad, RouteEntry, RouteModel } from "@enclave/contracts";
import { ENTRY_FIELDS, LOAD_FIELDS, MODEL_FIELDS, nextRouteVersion, routeContentJson, sameRouteContent } from "./route-version.js";

const EU = "eu-central-1";
const ref = (deployment: string, replica = 0) => ({ deployment, region: EU, replica, generation: 0 });

describe("buildRouteContent", () => {
  it("lists ready backends only, with their node's region and jurisdiction, sorted", () => {
    const nodes = [
      node("eu-2", EU, "EU", { backends: [backend("eu-2", ref("a"), { baseUrl: "http://10.0.0.2:8000" })] }),
      node("ch-1", "eu-central-2", "CH", {
        backends: [
          backend("ch-1", ref("a", 1), { state: "starting" }),
          backend("ch-1", ref("a", 2), { state: "restarting" }),
          backend("ch-1", ref("a", 3), { state: "failed" }),
          backend("ch-1", ref("a", 4), { state: "stopping" }),
          // A backend claims another region in its replica ref: where it runs is what counts.
          backend("ch-1", ref("a", 5), { load: null }),
        ],
      }),
    ];
    const c = buildRouteContent(nodes, []);
    assert.deepEqual(
      c.entries.map((e) => [e.backendId, e.region, e.jurisdiction, e.load]),
      [
        [`ch-1/a/${EU}/5/g0`, "eu-central-2", "CH", null],
        [`eu-2/a/${EU}/0/g0`, EU, "EU", { running: 0, waiting: 0, kvCacheUsage: 0 }],
      ],
    );
  });

  it("leaves out nodes whose health failed, and marks drained nodes draining, others ready", () => {
    const nodes = [
      node("a", EU, "EU", { backends: [backend("a", ref("x"))] }),
      node("b", EU, "EU", { backends: [backend("b", ref("x", 1))], health: "failed" }),
      node("c", EU, "EU", { backends: [backend("c", ref("x", 2))], health: "degraded" }),
      node("d", EU, "EU", { backends: [backend("d", ref("x", 3))] }),
    ];
    const c = buildRouteContent(nodes, [], new Set(["d"]));
    assert.deepEqual(
      c.entries.map((e) => [e.nodeId, e.nodeState]),
      [
        ["a", "ready"],
        ["c", "ready"],
        ["d", "draining"],
      ],
    );
  });

  it("a cordoned node counts as drained only once the leader found it empty under this very cordon", () => {
    const cordons = new Map([
      ["empty", { since: 5, by: "op", reason: "" }],
      ["busy", { since: 5, by: "op", reason: "" }],
      ["again", { since: 9, by: "op", reason: "" }],
      ["unseen", { since: 5, by: "op", reason: "" }],
    ]);
    const progress = { empty: { since: 5, remaining: 0 }, busy: { since: 5, remaining: 2 }, again: { since: 5, remaining: 0 }, gone: { since: 1, remaining: 0 } };
    assert.deepEqual([...drainedOf(cordons, progress)], ["empty"]);
  });

  it("lists every configured model with the regions that want replicas, merged by model", () => {
    const c = buildRouteContent([], [
      deployment({ name: "b", model: "org/m", replicasPerRegion: { "us-east-1": 1, [EU]: 0 } }),
      deployment({ name: "a", model: "org/m", replicasPerRegion: { [EU]: 2 } }),
      deployment({ name: "z", model: "org/a", replicasPerRegion: { [EU]: 0 } }),
    ]);
    assert.deepEqual(c.models, [
      { name: "org/a", regions: [] },
      { name: "org/m", regions: [EU, "us-east-1"] },
    ]);
    assert.deepEqual(c.entries, []);
  });

  it("gives equal content for equal inputs in any order, and sees a load change", () => {
    const n1 = node("a", EU, "EU", { backends: [backend("a", ref("x"))] });
    const n2 = node("b", EU, "EU", { backends: [backend("b", ref("x", 1))] });
    assert.ok(sameRouteContent(buildRouteContent([n1, n2], []), buildRouteContent([n2, n1], [])));
    const busier = node("a", EU, "EU", { backends: [backend("a", ref("x"), { load: { running: 1, waiting: 0, kvCacheUsage: 0 } })] });
    assert.ok(!sameRouteContent(buildRouteContent([n1, n2], []), buildRouteContent([busier, n2], [])));
  });
});

describe("route content comparison", () => {
  it("covers every field of the route table schemas, so no change can go unnoticed", () => {
    assert.deepEqual([...ENTRY_FIELDS].sort(), Object.keys(RouteEntry.shape).sort());
    assert.deepEqual([...LOAD_FIELDS].sort(), Object.keys(BackendLoad.shape).sort());
    assert.deepEqual([...MODEL_FIELDS].sort(), Object.keys(RouteModel.shape).sort());
  });

  it("tells load-only changes apart, and serialises equal content to equal bytes whatever the key order", () => {
    const n1 = node("a", EU, "EU", { backends: [backend("a", ref("x"))] });
    const busier = node("a", EU, "EU", { backends: [backend("a", ref("x"), { load: { running: 5, waiting: 0, kvCacheUsage: 0 } })] });
    const moved = node("a", EU, "EU", { backends: [backend("a", ref("x"), { baseUrl: "http://10.9.9.9:1" })] });
    const base = buildRouteContent([n1], []);
    assert.ok(!sameRouteContent(base, buildRouteContent([busier], [])));
    assert.ok(sameRouteContent(base, buildRouteContent([busier], []), { ignoreLoad: true }));
    assert.ok(!sameRouteContent(base, buildRouteContent([moved], []), { ignoreLoad: true }));
    const reordered = { models: base.models, entries: base.entries.map((e) => Object.fromEntries(Object.entries(e).reverse()) as typeof e) };
    assert.equal(routeContentJson(reordered), routeContentJson(base));
  });
});

describe("nextRouteVersion", () => {
  it("grows by at least one and never falls behind the clock", () => {
    assert.equal(nextRouteVersion(0, 1_700_000_000_000), 1_700_000_000_000);
    assert.equal(nextRouteVersion(1_700_000_000_000, 1_700_000_000_000), 1_700_000_000_001);
    assert.equal(nextRouteVersion(2_000_000_000_000, 1_700_000_000_000), 2_000_000_000_001);
  });
});

import assert from "node:assert/strict";
import { describe, it } from "node:test";
import { backend, deployment, node } from "../testing/fixtures.js";
import { buildRouteContent } from "./build-route-content.js";
import { nextRouteVersion, sameRouteContent } from "./route-version.js";

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

describe("nextRouteVersion", () => {
  it("grows by at least one and never falls behind the clock", () => {
    assert.equal(nextRouteVersion(0, 1_700_000_000_000), 1_700_000_000_000);
    assert.equal(nextRouteVersion(1_700_000_000_000, 1_700_000_000_000), 1_700_000_000_001);
    assert.equal(nextRouteVersion(2_000_000_000_000, 1_700_000_000_000), 2_000_000_000_001);
  });
});

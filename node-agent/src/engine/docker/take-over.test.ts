import assert from "node:assert/strict";
import { describe, test } from "node:test";
import type { EngineSpec } from "../engine-driver.js";
import { containerLabels, containerName, LABEL } from "./container-spec.js";
import { choosePort } from "./port-choice.js";
import { adoptable, findOrphans, type ContainerSummary } from "./take-over.js";


const spec = (node: string, deployment: string, generation = 1): EngineSpec => ({
  backendId: `${node}/${deployment}/eu-central-1/0/g${generation}`,
  replica: { deployment, region: "eu-central-1", replica: 0, generation },
  model: "m",
  engine: "vllm",
  gpus: ["GPU-a"],
  args: [],
});
const container = (s: EngineSpec, state = "running", over: Partial<ContainerSummary> = {}): ContainerSummary => ({
  id: `id-${s.backendId}`,
  name: containerName(s.backendId),
  state,
  labels: containerLabels(s.backendId.split("/")[0]!, s, 20001),
  ...over,
});

describe("taking over after an agent restart", () => {
  test("running containers of this node with readable labels are adopted; nothing else is", () => {
    const mine = spec("n1", "chat");
    const exited = spec("n1", "old");
    const other = spec("n2", "chat");
    const broken = container(spec("n1", "x"), "running", { labels: { [LABEL.node]: "n1", [LABEL.spec]: "not json" } });
    const renamed = container(spec("n1", "y"), "running", { name: "someone-renamed-it" });
    const list = [container(mine), container(exited, "exited"), container(other), broken, renamed];
    assert.deepEqual(adoptable(list, "n1"), [mine]);
  });

  test("orphans: what no backend owns, on this node, unless it is being created", () => {
    const owned = spec("n1", "chat");
    const gone = spec("n1", "deleted-deployment");
    const creating = spec("n1", "new");
    const list = [container(owned), container(gone), container(creating), container(spec("n2", "other")), container(spec("n1", "z"), "running", { labels: { [LABEL.node]: "n1" } })];
    const orphans = findOrphans(list, "n1", new Set([owned.backendId]), new Set([containerName(creating.backendId)]));
    assert.deepEqual(orphans, [
      { id: `id-${gone.backendId}`, name: containerName(gone.backendId), reason: `no backend ${gone.backendId} on this agent` },
      { id: `id-n1/z/eu-central-1/0/g1`, name: containerName("n1/z/eu-central-1/0/g1"), reason: "no backend label" },
    ]);
  });
});

describe("port choice", () => {
  test("a free port of the range, from a random start, wrapping around; none when full", () => {
    const range = { from: 20000, to: 20004 };
    assert.equal(choosePort(range, new Set(), () => 0), 20000);
    assert.equal(choosePort(range, new Set(), () => 0.99), 20004);
    assert.equal(choosePort(range, new Set([20003, 20004]), () => 0.7), 20000, "wraps");
    assert.equal(choosePort(range, new Set([20000, 20001, 20002, 20003, 20004]), () => 0.5), undefined);
    assert.equal(choosePort({ from: 1, to: 1 }, new Set(), () => 0.999999), 1);
  });
});

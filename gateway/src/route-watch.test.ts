import { test } from "node:test";
import assert from "node:assert/strict";
import type { RouteTable } from "@enclave/contracts";
import { decideTable } from "./route-watch.js";

const table = (version: number): RouteTable => ({
  version,
  generatedAt: 1,
  models: [{ name: "m", regions: ["eu-central-1"] }],
  entries: [{ backendId: "b", nodeId: "n1", model: "m", engine: "vllm", region: "eu-central-1", jurisdiction: "EU", url: "http://10.0.0.1:8000", load: null }],
});

test("the first valid table is adopted", () => {
  const d = decideTable(null, table(1));
  assert.equal(d.adopt, true);
});

test("only a higher version replaces the current table", () => {
  assert.equal(decideTable(table(5), table(6)).adopt, true);
  const same = decideTable(table(5), table(5));
  assert.deepEqual(same.adopt === false && [same.invalid, same.reason], [false, "version 5 is not newer than 5"]);
  assert.equal(decideTable(table(5), table(4)).adopt, false);
});

test("an invalid table is refused as a whole, naming the problem", () => {
  const broken = table(9) as unknown as { entries: { region: string }[] };
  broken.entries[0]!.region = "Not A Region";
  const d = decideTable(table(5), broken);
  assert.equal(d.adopt, false);
  if (!d.adopt) {
    assert.equal(d.invalid, true);
    assert.match(d.reason, /entries\.0\.region/);
  }
  for (const body of [null, "x", { version: -1 }, { ...table(7), entries: "none" }]) {
    const r = decideTable(null, body);
    assert.equal(r.adopt, false);
  }
});

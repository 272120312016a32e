import { test } from "node:test";
import assert from "node:assert/strict";
import type { RouteEntry, RouteTable } from "@enclave/contracts";
import { pickBackend, routeCandidates } from "./route.js";

function entry(backendId: string, model: string, region: string): RouteEntry {
  return { backendId, nodeId: `n-${backendId}`, model, engine: "vllm", region, jurisdiction: "EU", url: "http://127.0.0.1:1", load: null };
}

const table: RouteTable = {
  version: 3,
  generatedAt: 0,
  models: [{ name: "m", regions: ["eu-central-1", "us-east-1"] }],
  entries: [
    entry("a", "m", "eu-central-1"),
    entry("b", "m", "eu-west-1"),
    entry("c", "m", "us-east-1"),
    entry("d", "other", "eu-central-1"),
  ],
};

test("candidates: only the model's backends in allowed regions", () => {
  assert.deepEqual(routeCandidates(table, "m", ["eu-central-1", "eu-west-1"]).map((e) => e.backendId), ["a", "b"]);
  assert.deepEqual(routeCandidates(table, "m", ["eu-west-1"]).map((e) => e.backendId), ["b"]);
  assert.deepEqual(routeCandidates(table, "other", ["eu-central-1"]).map((e) => e.backendId), ["d"]);
  assert.deepEqual(routeCandidates(table, "m", ["ap-south-1"]), []);
  assert.deepEqual(routeCandidates(table, "nope", ["eu-central-1"]), []);
  assert.deepEqual(routeCandidates(table, "m", []), []);
});

test("pick: of two, the fewer in flight wins; excluded ones are skipped", () => {
  const c = [entry("a", "m", "r"), entry("b", "m", "r")];
  const load: Record<string, number> = { a: 3, b: 1 };
  assert.equal(pickBackend(c, (id) => load[id] ?? 0, new Set())?.backendId, "b");
  assert.equal(pickBackend(c, (id) => load[id] ?? 0, new Set(["b"]))?.backendId, "a");
  assert.equal(pickBackend(c, (id) => load[id] ?? 0, new Set(["a", "b"])), undefined);
  assert.equal(pickBackend([], () => 0, new Set()), undefined);
});

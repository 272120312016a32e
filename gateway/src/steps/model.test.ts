import { test } from "node:test";
import assert from "node:assert/strict";
import type { RouteTable, Tenant } from "@enclave/contracts";
import { checkModel } from "./model.js";

const table: RouteTable = {
  version: 1, generatedAt: 0,
  models: [{ name: "planned", regions: ["eu-central-1"] }],
  entries: [{ backendId: "b", nodeId: "n", model: "served", engine: "vllm", region: "eu-central-1", jurisdiction: "EU", url: "http://x:1", load: null }],
};
const open: Tenant = { id: "t", regions: ["eu-central-1"], auditContent: "none", apiKeys: [] };
const narrow: Tenant = { ...open, models: ["served"] };

test("a model is known from the table's models or its entries", () => {
  assert.deepEqual(checkModel("planned", open, table), { ok: true, value: "planned" });
  assert.deepEqual(checkModel("served", open, table), { ok: true, value: "served" });
});

test("unknown and not-allowed models get the same 404", () => {
  const unknown = checkModel("nope", open, table);
  const forbidden = checkModel("planned", narrow, table);
  assert.equal(unknown.ok, false);
  assert.equal(forbidden.ok, false);
  if (!unknown.ok && !forbidden.ok) {
    assert.equal(unknown.error.status, 404);
    assert.equal(forbidden.error.code, unknown.error.code);
    assert.equal(forbidden.error.message.replace("planned", "X"), unknown.error.message.replace("nope", "X"));
  }
  assert.equal(checkModel("served", narrow, table).ok, true);
  assert.equal(checkModel("Served", narrow, table).ok, false, "names match exactly");
});

test("globs: * and ? match model names, other characters literally", () => {
  const t: Tenant = { ...open, models: ["meta-llama/*", "qwen?.5"] };
  const tbl: RouteTable = { ...table, models: ["meta-llama/Llama-3.1-8B", "qwen2.5", "qwen2x5", "mistral"].map((name) => ({ name, regions: ["eu-central-1"] })) };
  assert.equal(checkModel("meta-llama/Llama-3.1-8B", t, tbl).ok, true);
  assert.equal(checkModel("qwen2.5", t, tbl).ok, true);
  assert.equal(checkModel("qwen2x5", t, tbl).ok, false, "'.' is literal");
  assert.equal(checkModel("mistral", t, tbl).ok, false);
});

import { test } from "node:test";
import assert from "node:assert/strict";
import type { RouteTable, Tenant } from "@enclave/contracts";
import { listModels } from "./models.js";

const table: RouteTable = {
  version: 1,
  generatedAt: 0,
  models: [
    { name: "eu-model", regions: ["eu-central-1"] },
    { name: "us-model", regions: ["us-east-1"] },
    { name: "both", regions: ["us-east-1", "eu-west-1"] },
    { name: "nowhere", regions: [] },
  ],
  entries: [],
};

test("lists models deployed in one of the tenant's regions", () => {
  const t: Tenant = { id: "t", regions: ["eu-central-1", "eu-west-1"], auditContent: "none", apiKeys: [] };
  assert.deepEqual(listModels(t, table).data.map((m) => m.id), ["both", "eu-model"]);
  assert.equal(listModels(t, table).object, "list");
});

test("a tenant's model allow-list narrows the list", () => {
  const t: Tenant = { id: "t", regions: ["eu-central-1", "eu-west-1", "us-east-1"], auditContent: "none", models: ["us-model", "nowhere"], apiKeys: [] };
  assert.deepEqual(listModels(t, table).data, [{ id: "us-model", object: "model", created: 0, owned_by: "enclave" }]);
});

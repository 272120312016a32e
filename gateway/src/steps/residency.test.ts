import { test } from "node:test";
import assert from "node:assert/strict";
import { decideResidency } from "./residency.js";

const tenant = ["eu-central-1", "eu-west-1"];

test("no header: the tenant's regions", () => {
  assert.deepEqual(decideResidency(tenant, undefined), { ok: true, value: ["eu-central-1", "eu-west-1"] });
});

test("the header narrows to a subset, in the tenant's order", () => {
  assert.deepEqual(decideResidency(tenant, "eu-west-1"), { ok: true, value: ["eu-west-1"] });
  assert.deepEqual(decideResidency(tenant, " eu-west-1 , eu-central-1,eu-west-1 "), { ok: true, value: ["eu-central-1", "eu-west-1"] });
});

test("the header never widens: a region outside the tenant's set is refused", () => {
  const r = decideResidency(tenant, "eu-west-1,us-east-1");
  assert.equal(r.ok, false);
  if (!r.ok) {
    assert.equal(r.error.status, 403);
    assert.equal(r.error.code, "region_not_allowed");
    assert.match(r.error.message, /us-east-1/);
  }
});

test("an unknown or malformed region is refused like any foreign one", () => {
  for (const h of ["mars-1", "EU-CENTRAL-1", "eu-central-1;drop"]) {
    const r = decideResidency(tenant, h);
    assert.equal(r.ok, false, h);
  }
});

test("an empty header names no region and can only deny", () => {
  for (const h of ["", " ", ",,"]) {
    const r = decideResidency(tenant, h);
    assert.equal(r.ok, false, JSON.stringify(h));
    if (!r.ok) assert.equal(r.error.code, "region_not_allowed");
  }
});

test("an over-long header is refused", () => {
  const r = decideResidency(tenant, "eu-west-1,".repeat(500));
  assert.equal(r.ok, false);
});

test("a tenant with no regions is denied, whatever the header", () => {
  assert.equal(decideResidency([], undefined).ok, false);
  assert.equal(decideResidency([], "eu-west-1").ok, false);
});

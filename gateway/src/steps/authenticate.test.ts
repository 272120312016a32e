import { test } from "node:test";
import assert from "node:assert/strict";
import type { Tenant } from "@enclave/contracts";
import { sha256Hex } from "@enclave/runtime";
import { authenticate, buildKeyIndex } from "./authenticate.js";

const tenants: Tenant[] = [
  { id: "acme", regions: ["eu-central-1"], auditContent: "none", apiKeys: [{ id: "acme-1", sha256: sha256Hex("sk-acme-1") }, { id: "acme-2", sha256: sha256Hex("sk-acme-2") }] },
  { id: "globex", regions: ["us-east-1"], auditContent: "none", apiKeys: [{ id: "globex-1", sha256: sha256Hex("sk-globex") }] },
];

test("a known key yields its tenant and key id", () => {
  const keys = buildKeyIndex(tenants);
  const r = authenticate("Bearer sk-acme-2", keys);
  assert.equal(r.ok, true);
  if (r.ok) {
    assert.equal(r.value.tenant.id, "acme");
    assert.equal(r.value.keyId, "acme-2");
  }
  const g = authenticate("bearer sk-globex", keys);
  assert.equal(g.ok && g.value.tenant.id, "globex");
});

test("missing, malformed and unknown keys are 401 invalid_api_key", () => {
  const keys = buildKeyIndex(tenants);
  for (const h of [undefined, "", "Bearer", "Basic c2stYWNtZS0x", "sk-acme-1", "Bearer sk-acme-3", "Bearer sk-acme-1 extra"]) {
    const r = authenticate(h, keys);
    assert.equal(r.ok, false, String(h));
    if (!r.ok) {
      assert.equal(r.error.status, 401);
      assert.equal(r.error.code, "invalid_api_key");
    }
  }
});

test("a digest configured twice is a startup error naming both places", () => {
  const dup: Tenant[] = [...tenants, { id: "evil", regions: ["us-east-1"], auditContent: "none", apiKeys: [{ id: "copy", sha256: sha256Hex("sk-acme-1") }] }];
  assert.throws(() => buildKeyIndex(dup), /tenant acme key acme-1 and tenant evil key copy/);
});

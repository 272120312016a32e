import { test } from "node:test";
import assert from "node:assert/strict";
import type { RouteEntry } from "@enclave/contracts";
import { newRequestContext } from "../request-context.js";
import { auditEventFor } from "./audit.js";

const entry: RouteEntry = { backendId: "n1/d/eu-west-1/0/g2", nodeId: "n1", model: "m", engine: "vllm", region: "eu-west-1", jurisdiction: "EU", url: "http://x:1", load: null };

test("a routed event names tenant, key id, where it ran and how long it took", () => {
  const ctx = newRequestContext("chat.completions", 1000);
  ctx.principal = { tenant: { id: "acme", regions: ["eu-west-1"], apiKeys: [{ id: "k1", sha256: "a".repeat(64) }], auditContent: "none" }, keyId: "k1" };
  ctx.model = "m";
  ctx.allowedRegions = ["eu-west-1"];
  ctx.bodySha256 = "b".repeat(64);
  const e = auditEventFor(ctx, { decision: "routed", reason: "ok", status: 200, retries: 1, entry, promptTokens: 3, completionTokens: 4 }, 1250.5);
  assert.deepEqual(e, {
    tenant: "acme", principal: "k1", action: "chat.completions", model: "m", allowedRegions: ["eu-west-1"],
    region: "eu-west-1", nodeId: "n1", backendId: "n1/d/eu-west-1/0/g2", decision: "routed", reason: "ok", status: 200,
    retries: 1, promptTokens: 3, completionTokens: 4, latencyMs: 250.5, bodySha256: "b".repeat(64), redactions: {},
  });
  assert.doesNotMatch(JSON.stringify(e), /aaaa/, "no key material");
});

test("a denial before authentication has nulls, and long client strings are bounded", () => {
  const ctx = newRequestContext("chat.completions", 0);
  ctx.model = "x".repeat(10_000);
  const e = auditEventFor(ctx, { decision: "denied", reason: "r".repeat(5000), status: 401, retries: 0, entry: null, promptTokens: null, completionTokens: null }, 5);
  assert.equal(e.tenant, null);
  assert.equal(e.principal, null);
  assert.equal(e.region, null);
  assert.equal(e.backendId, null);
  assert.equal(e.model!.length, 256);
  assert.equal(e.reason.length, 1000);
});

test("content kept by the tenant's mode goes into the event as given", () => {
  const ctx = newRequestContext("chat.completions", 0);
  const content = { mode: "sha256" as const, requestSha256: "c".repeat(64), requestBytes: 10, responseSha256: null, responseBytes: 0 };
  const e = auditEventFor(ctx, { decision: "denied", reason: "r", status: 400, retries: 0, entry: null, promptTokens: null, completionTokens: null }, 1, content);
  assert.deepEqual(e.content, content);
  assert.equal("content" in auditEventFor(ctx, { decision: "denied", reason: "r", status: 400, retries: 0, entry: null, promptTokens: null, completionTokens: null }, 1), false);
});

import { test } from "node:test";
import assert from "node:assert/strict";
import { GENESIS_HASH } from "@enclave/contracts";
import { canonicalJson } from "./canonical-json.js";
import { recordHash } from "./record-hash.js";

test("canonicalJson sorts keys at every depth and drops whitespace", () => {
  assert.equal(canonicalJson({ b: 1, a: { d: [3, { z: 1, y: 2 }], c: "x" } }), '{"a":{"c":"x","d":[3,{"y":2,"z":1}]},"b":1}');
});

test("canonicalJson does not depend on insertion order", () => {
  const a = { x: 1, y: null, z: [true, "s"] };
  const b = { z: [true, "s"], y: null, x: 1 };
  assert.equal(canonicalJson(a), canonicalJson(b));
});

test("canonicalJson escapes strings as JSON does and skips undefined properties", () => {
  assert.equal(canonicalJson({ s: 'a"b\n\u2028', u: undefined }), '{"s":"a\\"b\\n\u2028"}');
});

test("canonicalJson rejects values JSON cannot carry", () => {
  assert.throws(() => canonicalJson({ n: NaN }), /non-finite number at \$\.n/);
  assert.throws(() => canonicalJson([Infinity]), /non-finite/);
  assert.throws(() => canonicalJson({ b: 1n }), /bigint/);
  assert.throws(() => canonicalJson([undefined]), /undefined/);
  const cyclic: Record<string, unknown> = {};
  cyclic.self = cyclic;
  assert.throws(() => canonicalJson(cyclic), /cycle/);
});

test("recordHash ignores a hash property and changes with any field", () => {
  const base = {
    id: "1", seq: 0, time: "t", emitter: "gw", tenant: null, principal: null, action: "a", model: null,
    allowedRegions: [], region: null, nodeId: null, backendId: null, decision: "denied" as const, reason: "r",
    status: 401, retries: 0, promptTokens: null, completionTokens: null, latencyMs: 1, bodySha256: null, prevHash: GENESIS_HASH,
  };
  const h = recordHash(base);
  assert.match(h, /^[0-9a-f]{64}$/);
  assert.equal(recordHash({ ...base, hash: "whatever" } as typeof base), h);
  assert.notEqual(recordHash({ ...base, status: 403 }), h);
});

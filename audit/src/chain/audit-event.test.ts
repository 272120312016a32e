import { test } from "node:test";
import assert from "node:assert/strict";
import fc from "fast-check";
import { AuditRecord } from "@enclave/contracts";
import { canonicalJson } from "../canonical-json.js";
import { routedEvent } from "../testing/fixtures.js";
import { buildRecord, type ChainFields } from "./audit-event.js";

const text = fc.string({ unit: "binary", maxLength: 20 });
const nat = fc.nat({ max: 1_000_000 });
const hex64 = fc.stringMatching(/^[0-9a-f]{64}$/);
const content = fc.oneof(
  fc.record({ mode: fc.constant("sha256" as const), requestSha256: fc.option(hex64), requestBytes: nat, responseSha256: fc.option(hex64), responseBytes: nat }),
  fc.record({
    mode: fc.constant("encrypted" as const), requestSha256: fc.option(hex64), requestBytes: nat, responseSha256: fc.option(hex64), responseBytes: nat,
    alg: fc.constant("AES-256-GCM" as const), keyId: fc.string({ minLength: 1, maxLength: 8 }), iv: fc.base64String({ maxLength: 16 }),
    tag: fc.base64String({ maxLength: 24 }), ciphertext: fc.base64String({ maxLength: 40 }), encryptedRequestBytes: nat, truncated: fc.boolean(),
  }),
);
const event = fc.record(
  {
    tenant: fc.option(text), principal: fc.option(text), action: text, model: fc.option(text), allowedRegions: fc.array(text, { maxLength: 3 }),
    region: fc.option(text), nodeId: fc.option(text), backendId: fc.option(text), decision: fc.constantFrom("routed", "denied", "failed", "operator"),
    reason: text, status: fc.integer({ min: -1, max: 599 }), retries: fc.nat({ max: 10 }), promptTokens: fc.option(nat), completionTokens: fc.option(nat),
    latencyMs: fc.double({ min: 0, max: 1e6, noNaN: true }), bodySha256: fc.option(hex64), redactions: fc.dictionary(text, nat, { maxKeys: 3 }), content,
    unknownField: text,
  },
  { requiredKeys: ["tenant", "principal", "action", "model", "allowedRegions", "region", "nodeId", "backendId", "decision", "reason", "status", "retries", "promptTokens", "completionTokens", "latencyMs", "bodySha256"] },
);
const chain: ChainFields = { id: "00000000-0000-4000-8000-000000000000", seq: 7, time: "2025-01-01T00:00:00.000Z", emitter: "gw", chain: "eu-central-1", prevHash: "ab".repeat(32) };
const schema = AuditRecord.omit({ hash: true });
/** Anything at all in one field. */
const junk = fc.oneof(fc.constant(undefined), fc.constant(null), fc.constant(NaN), fc.constant(Infinity), fc.constant(-1), fc.constant(1.5), fc.string(), fc.boolean(), fc.array(fc.anything(), { maxLength: 2 }), fc.object({ maxDepth: 1 }));

test("a valid event's record is what the schema makes of it, and JSON.stringify of it is its canonical JSON", () => {
  fc.assert(
    fc.property(event, (e) => {
      const built = buildRecord(e as never, chain);
      assert.ok(built.ok, built.ok ? "" : built.error);
      const parsed = schema.parse({ ...e, ...chain });
      assert.deepEqual(built.record, parsed);
      assert.equal(JSON.stringify(built.record), canonicalJson(parsed));
    }),
    { numRuns: 400 },
  );
});

test("an event is accepted exactly when the schema accepts it", () => {
  const keys = Object.keys(routedEvent(1)).concat(["redactions", "content"]);
  fc.assert(
    fc.property(event, fc.constantFrom(...keys), junk, (e, key, value) => {
      const bad = { ...e, [key]: value } as Record<string, unknown>;
      if (value === undefined) delete bad[key];
      const built = buildRecord(bad as never, chain);
      assert.equal(built.ok, schema.safeParse({ ...bad, ...chain }).success, `${key} (${typeof value}): ${built.ok ? "accepted" : built.error}`);
    }),
    { numRuns: 1000 },
  );
});

test("errors name the field", () => {
  const r = buildRecord({ ...routedEvent(1), promptTokens: -1 }, chain);
  assert.deepEqual(r.ok ? null : r.error.split(":")[0], "promptTokens");
  const c = buildRecord({ ...routedEvent(1), content: { mode: "sha256", requestSha256: "x" } as never }, chain);
  assert.match(c.ok ? "" : c.error, /^content\./);
});

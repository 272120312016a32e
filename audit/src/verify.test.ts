import { test } from "node:test";
import assert from "node:assert/strict";
import { GENESIS_HASH, type AuditRecord } from "@enclave/contracts";
import { canonicalJson } from "./canonical-json.js";
import { recordHash } from "./record-hash.js";
import { verifyAuditLines } from "./verify.js";

function chain(emitter: string, n: number, firstSeq = 0, firstPrev = GENESIS_HASH): AuditRecord[] {
  const out: AuditRecord[] = [];
  let prev = firstPrev;
  for (let i = 0; i < n; i++) {
    const base = {
      id: `${emitter}-${i}`, seq: firstSeq + i, time: new Date(1700000000000 + i).toISOString(), emitter,
      tenant: "t1", principal: "k1", action: "chat.completions", model: "m", allowedRegions: ["eu-central-1"],
      region: "eu-central-1", nodeId: "n1", backendId: "b1", decision: "routed" as const, reason: "ok", status: 200,
      retries: 0, promptTokens: 3, completionTokens: 5, latencyMs: 12, bodySha256: "ab".repeat(32), prevHash: prev,
    };
    const r = { ...base, hash: recordHash(base) };
    out.push(r);
    prev = r.hash;
  }
  return out;
}
const lines = (rs: AuditRecord[]) => rs.map((r) => canonicalJson(r));

test("an intact chain verifies", () => {
  const r = verifyAuditLines(lines(chain("gw", 5)));
  assert.deepEqual(r, { ok: true, records: 5, problems: [] });
});

test("no lines is an intact (empty) chain", () => {
  assert.deepEqual(verifyAuditLines([]), { ok: true, records: 0, problems: [] });
});

test("two emitters interleaved are checked separately", () => {
  const a = lines(chain("a", 3));
  const b = lines(chain("b", 3));
  const mixed = [a[0], b[0], b[1], a[1], a[2], b[2]] as string[];
  assert.equal(verifyAuditLines(mixed).ok, true);
});

test("a later segment may start at any seq", () => {
  const r = verifyAuditLines(lines(chain("gw", 3, 40, "cd".repeat(32))));
  assert.equal(r.ok, true);
});

test("seq 0 must start from the genesis hash", () => {
  const r = verifyAuditLines(lines(chain("gw", 2, 0, "cd".repeat(32))));
  assert.equal(r.ok, false);
  assert.equal(r.problems[0]?.line, 1);
});

test("a field altered without fixing the hash is named by line", () => {
  const ls = lines(chain("gw", 5));
  ls[2] = ls[2]!.replace('"status":200', '"status":201');
  const r = verifyAuditLines(ls);
  assert.equal(r.ok, false);
  assert.deepEqual(r.problems.map((p) => [p.line, p.seq]), [[3, 2]]);
  assert.match(r.problems[0]!.message, /hash mismatch/);
});

test("an added field is caught even though the schema would strip it", () => {
  const ls = lines(chain("gw", 3));
  ls[1] = ls[1]!.replace("{", '{"extra":"x",');
  const r = verifyAuditLines(ls);
  assert.deepEqual(r.problems.map((p) => p.line), [2]);
});

test("a record rewritten with a fresh hash is caught at the next link", () => {
  const rs = chain("gw", 4);
  const forged = { ...rs[1]!, region: "us-east-1" };
  forged.hash = recordHash(forged);
  rs[1] = forged;
  const r = verifyAuditLines(lines(rs));
  assert.deepEqual(r.problems.map((p) => p.line), [3]);
  assert.match(r.problems[0]!.message, /prevHash/);
});

test("a deleted middle line is reported as missing records", () => {
  const ls = lines(chain("gw", 5));
  ls.splice(2, 1);
  const r = verifyAuditLines(ls);
  assert.equal(r.ok, false);
  assert.equal(r.problems[0]?.line, 3);
  assert.equal(r.problems[0]?.seq, 3);
  assert.match(r.problems[0]!.message, /expected seq 2 .* found 3 .*missing/);
});

test("two swapped lines are reported where the order breaks", () => {
  const ls = lines(chain("gw", 5));
  [ls[1], ls[2]] = [ls[2]!, ls[1]!];
  const r = verifyAuditLines(ls);
  assert.equal(r.ok, false);
  assert.equal(r.problems[0]?.line, 2);
  assert.match(r.problems[0]!.message, /expected seq 1/);
});

test("garbage and non-records are problems, not crashes", () => {
  const ls = lines(chain("gw", 2));
  const r = verifyAuditLines([ls[0]!, "{torn", '{"seq":1}', ls[1]!]);
  assert.equal(r.ok, false);
  assert.deepEqual(r.problems.map((p) => [p.line, p.seq]), [[2, null], [3, 1]]);
  assert.equal(r.records, 4);
});

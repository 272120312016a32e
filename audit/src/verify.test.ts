import { test } from "node:test";
import assert from "node:assert/strict";
import { generateKeyPairSync } from "node:crypto";
import { GENESIS_HASH, type AuditRecord } from "@enclave/contracts";
import { canonicalJson } from "./canonical-json.js";
import { recordHash } from "./record-hash.js";
import { buildCheckpoint, checkpointSigner, verifyKeys } from "./chain/checkpoint.js";
import { syslogMessage } from "./ship/syslog-message.js";
import { encodeFrame } from "./spool/frame.js";
import { verifyAuditLines, type VerifyResult } from "./verify.js";

/** Whole: no problems, `n` records read. */
function assertIntact(v: VerifyResult, n: number): void {
  assert.deepEqual(v.problems, []);
  assert.equal(v.ok, true);
  assert.equal(v.records, n);
}

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
  assertIntact(verifyAuditLines(lines(chain("gw", 5))), 5);
});

test("no lines is an intact (empty) chain", () => {
  assertIntact(verifyAuditLines([]), 0);
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

// --- chains as the spool and the sinks store them

function signer() {
  const { privateKey, publicKey } = generateKeyPairSync("ed25519");
  return { s: checkpointSigner(privateKey.export({ type: "pkcs8", format: "pem" }).toString()), pub: publicKey.export({ type: "spki", format: "pem" }).toString() };
}

/** A chain of `n` records then a checkpoint, as objects. */
function sealedChain(n: number, k: ReturnType<typeof signer>["s"]): object[] {
  const rs: object[] = chain("gw", n).map((r) => {
    const { hash: _h, ...rest } = r;
    return rest;
  });
  // Re-chain with a `chain` field, as the spool writes them.
  let prev = GENESIS_HASH;
  const out: object[] = [];
  for (const r of rs) {
    const base = { ...r, chain: "eu-central-1", prevHash: prev };
    const full = { ...base, hash: recordHash(base as Omit<AuditRecord, "hash">) };
    out.push(full);
    prev = full.hash;
  }
  out.push(buildCheckpoint({ seq: n, prevHash: prev, emitter: "gw", chain: "eu-central-1", time: new Date(0) }, k));
  return out;
}

test("checkpoint signatures are checked with the given keys; the tail after the last checkpoint is reported", () => {
  const k = signer();
  const ls = sealedChain(3, k.s).map((o) => canonicalJson(o));
  const keys = verifyKeys([k.pub]);
  const ok = verifyLines(ls, { keys, requireSealed: true });
  assert.deepEqual(ok.problems, []);
  assert.deepEqual(ok.chains.map((c) => [c.emitter, c.chain, c.records, c.checkpoints, c.unsealed, c.lastCheckpoint?.signature]), [["gw", "eu-central-1", 3, 1, 0, "valid"]]);
  // Without keys the chain still verifies; signatures are just unchecked.
  assert.equal(verifyLines(ls).chains[0]!.lastCheckpoint?.signature, "unchecked");
  // Another key's checkpoint, or a forged signature.
  assert.match(verifyLines(ls, { keys: verifyKeys([signer().pub]) }).problems[0]!.message, /not among the given public keys/);
  const forged = JSON.parse(ls[3]!) as Record<string, unknown>;
  forged.signature = Buffer.alloc(64).toString("base64");
  forged.hash = recordHash(forged as Omit<AuditRecord, "hash">);
  const bad = verifyLines([...ls.slice(0, 3), canonicalJson(forged)], { keys });
  assert.deepEqual(bad.problems.map((p) => [p.line, p.message]), [[4, "checkpoint seq 3 of gw/eu-central-1 has an invalid signature"]]);
  // Cut the checkpoint off the end: --sealed notices; records after a checkpoint too.
  const cut = verifyLines(ls.slice(0, 3), { keys, requireSealed: true });
  assert.match(cut.problems[0]!.message, /gw\/eu-central-1 has no checkpoint/);
  assert.equal(verifyLines(ls.slice(0, 3)).ok, true);
});

test("an identical entry delivered twice is a flagged duplicate, not a break; a different one with the same seq is", () => {
  const ls = lines(chain("gw", 5));
  const resent = [...ls.slice(0, 4), ls[2]!, ls[3]!, ls[4]!];
  const r = verifyAuditLines(resent);
  assert.deepEqual(r.problems, []);
  assert.deepEqual(r.duplicates.map((d) => [d.line, d.seq]), [[5, 2], [6, 3]]);
  assert.match(r.duplicates[0]!.message, /duplicate of record seq 2 of gw on line 3/);
  assert.equal(r.chains[0]!.duplicates, 2);

  const forked = { ...chain("gw", 5)[2]!, status: 500 };
  forked.hash = recordHash(forked);
  const conflicting = verifyAuditLines([...ls.slice(0, 4), canonicalJson(forked)]);
  assert.equal(conflicting.ok, false);
  assert.match(conflicting.problems.at(-1)!.message, /seq 2 of gw appears twice with different content/);
});

test("spool frames and receiver lines verify like bare JSON, and damage is named by line", () => {
  const objs = chain("gw", 4);
  const framed = objs.map((o) => encodeFrame(canonicalJson(o)).toString("utf8").slice(0, -1));
  assert.equal(verifyAuditLines(framed).ok, true);
  const damaged = [...framed];
  damaged[2] = damaged[2]!.replace('"status":200', '"status":201');
  assert.deepEqual(verifyAuditLines(damaged).problems[0], { line: 3, seq: null, message: "frame checksum mismatch (torn or altered line)" });

  const entry = (o: AuditRecord) => ({ json: canonicalJson(o), kind: "record" as const, seq: o.seq, time: o.time, emitter: o.emitter, chain: "c", end: { segment: "", offset: 0 } });
  const stored = objs.map((o) => syslogMessage(entry(o), { hostname: "h", appName: "enclave", procId: "1" }));
  assert.equal(verifyAuditLines(stored).ok, true);
  const dropped = [stored[0]!, stored[1]!, stored[3]!];
  assert.deepEqual(verifyAuditLines(dropped).problems.map((p) => p.line), [3]);
});

test("a segment header says where a later segment's chain must start", () => {
  const objs: AuditRecord[] = [];
  let prev = GENESIS_HASH;
  for (const r of chain("gw", 6)) {
    const { hash: _h, ...rest } = r;
    const base = { ...rest, chain: "c", prevHash: prev };
    const full = { ...base, hash: recordHash(base) };
    objs.push(full);
    prev = full.hash;
  }
  const ls = lines(objs);
  const header = (firstSeq: number, prevHash: string) =>
    encodeFrame(canonicalJson({ kind: "segment", version: 1, emitter: "gw", chain: "c", firstSeq, prevHash, created: "t" })).toString("utf8").slice(0, -1);
  assert.equal(verifyAuditLines(ls.slice(3)).ok, true, "a later part on its own may start anywhere");
  assert.equal(verifyAuditLines([header(3, objs[2]!.hash), ...ls.slice(3)]).ok, true);
  // The segment's first record was cut away: the header still says where it began.
  const cut = verifyAuditLines([header(3, objs[2]!.hash), ...ls.slice(4)]);
  assert.deepEqual(cut.problems.map((p) => [p.line, p.seq]), [[2, 4]]);
  assert.match(cut.problems[0]!.message, /continues gw\/c from seq 3 but its first entry is seq 4/);
});

function verifyLines(ls: string[], opts: Parameters<typeof verifyAuditLines>[1] = {}) {
  return verifyAuditLines(ls, opts);
}

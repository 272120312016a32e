import { test, type TestContext } from "node:test";
import assert from "node:assert/strict";
import { mkdtemp, readFile, rm, stat, writeFile, appendFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { GENESIS_HASH, type AuditEvent } from "@enclave/contracts";
import { AuditLog } from "./audit-log.js";
import { recordHash } from "./record-hash.js";
import { verifyAuditFile, type VerifyResult } from "./verify.js";

/** Whole: no problems, `n` records read. */
function assertIntact(v: VerifyResult, n: number): void {
  assert.deepEqual(v.problems, []);
  assert.equal(v.ok, true);
  assert.equal(v.records, n);
}

async function tempDir(t: TestContext): Promise<string> {
  const dir = await mkdtemp(join(tmpdir(), "enclave-audit-"));
  t.after(() => rm(dir, { recursive: true, force: true }));
  return dir;
}

async function openLog(t: TestContext, file: string, emitter = "gw-1"): Promise<AuditLog> {
  const log = await AuditLog.open(file, emitter);
  t.after(() => log.close());
  return log;
}

function event(i: number): AuditEvent {
  return {
    tenant: "acme", principal: "key-1", action: "chat.completions", model: "m", allowedRegions: ["eu-central-1"],
    region: "eu-central-1", nodeId: "n1", backendId: "n1/d/eu-central-1/0/g0", decision: "routed", reason: "ok",
    status: 200, retries: 0, promptTokens: i, completionTokens: 2 * i, latencyMs: 5, bodySha256: null,
  };
}

async function readLines(file: string): Promise<string[]> {
  return (await readFile(file, "utf8")).split("\n").filter((l) => l !== "");
}

test("appends chain records and the file verifies", async (t) => {
  const dir = await tempDir(t);
  const file = join(dir, "nested", "audit.jsonl");
  const log = await openLog(t, file);
  const r0 = await log.append(event(0));
  const r1 = await log.append(event(1));
  assert.equal(r0.seq, 0);
  assert.equal(r0.prevHash, GENESIS_HASH);
  assert.equal(r0.emitter, "gw-1");
  assert.equal(r0.hash, recordHash(r0));
  assert.equal(r1.seq, 1);
  assert.equal(r1.prevHash, r0.hash);
  assert.notEqual(r0.id, r1.id);
  assert.equal(((await stat(file)).mode & 0o777), 0o600);
  const lines = await readLines(file);
  assert.equal(lines.length, 2);
  assert.deepEqual(JSON.parse(lines[1]!), r1);
  assertIntact(await verifyAuditFile(file), 2);
});

test("concurrent appends are written in call order", async (t) => {
  const file = join(await tempDir(t), "audit.jsonl");
  const log = await openLog(t, file);
  const records = await Promise.all(Array.from({ length: 50 }, (_, i) => log.append(event(i))));
  assert.deepEqual(records.map((r) => r.seq), Array.from({ length: 50 }, (_, i) => i));
  assert.deepEqual(records.map((r) => r.promptTokens), Array.from({ length: 50 }, (_, i) => i));
  const v = await verifyAuditFile(file);
  assert.equal(v.ok, true);
  assert.equal(v.records, 50);
});

test("an invalid event is rejected, writes nothing and does not break the chain", async (t) => {
  const file = join(await tempDir(t), "audit.jsonl");
  const log = await openLog(t, file);
  await log.append(event(1));
  await assert.rejects(log.append({ ...event(2), promptTokens: -1 }), /invalid audit event: promptTokens/);
  await assert.rejects(log.append({ ...event(2), latencyMs: NaN }), /invalid audit event/);
  const r = await log.append(event(3));
  assert.equal(r.seq, 1);
  assertIntact(await verifyAuditFile(file), 2);
});

test("reopening continues the chain across a restart", async (t) => {
  const file = join(await tempDir(t), "audit.jsonl");
  const first = await AuditLog.open(file, "gw-1");
  await first.append(event(0));
  const last = await first.append(event(1));
  await first.close();
  await assert.rejects(first.append(event(2)), /closed/);

  const second = await openLog(t, file);
  assert.equal(second.repairedBytes, 0);
  const next = await second.append(event(2));
  assert.equal(next.seq, 2);
  assert.equal(next.prevHash, last.hash);
  assertIntact(await verifyAuditFile(file), 3);
});

test("a torn last line is cut on open and the chain continues from the last good record", async (t) => {
  const file = join(await tempDir(t), "audit.jsonl");
  const first = await AuditLog.open(file, "gw-1");
  await first.append(event(0));
  const good = await first.append(event(1));
  await first.close();
  const torn = '{"action":"chat.completions","allowedRegions":["eu-';
  await appendFile(file, torn);
  assert.equal((await verifyAuditFile(file)).ok, false);

  const second = await openLog(t, file);
  assert.equal(second.repairedBytes, Buffer.byteLength(torn));
  const next = await second.append(event(2));
  assert.equal(next.seq, 2);
  assert.equal(next.prevHash, good.hash);
  assertIntact(await verifyAuditFile(file), 3);
});

test("a crash tail of NUL bytes ending in a newline is cut too", async (t) => {
  const file = join(await tempDir(t), "audit.jsonl");
  const first = await AuditLog.open(file, "gw-1");
  const good = await first.append(event(0));
  await first.close();
  await appendFile(file, Buffer.concat([Buffer.alloc(40), Buffer.from("\n"), Buffer.alloc(7)]));
  const second = await openLog(t, file);
  assert.equal(second.repairedBytes, 48);
  const next = await second.append(event(1));
  assert.equal(next.prevHash, good.hash);
  assert.equal((await verifyAuditFile(file)).ok, true);
});

test("a file that is only a torn fragment starts a fresh chain", async (t) => {
  const file = join(await tempDir(t), "audit.jsonl");
  await writeFile(file, '{"seq":0,"hash');
  const log = await openLog(t, file);
  const r = await log.append(event(0));
  assert.equal(r.seq, 0);
  assert.equal(r.prevHash, GENESIS_HASH);
  assert.equal((await readLines(file)).length, 1);
});

test("a complete last line that is not a record is refused, not cut", async (t) => {
  const file = join(await tempDir(t), "audit.jsonl");
  await writeFile(file, '{"hello":"world"}\n');
  await assert.rejects(AuditLog.open(file, "gw-1"), /not an audit record/);
  assert.equal(await readFile(file, "utf8"), '{"hello":"world"}\n');
});

test("another emitter's file is refused", async (t) => {
  const file = join(await tempDir(t), "audit.jsonl");
  const a = await AuditLog.open(file, "gw-a");
  await a.append(event(0));
  await a.close();
  await assert.rejects(AuditLog.open(file, "gw-b"), /emitter 'gw-a', not 'gw-b'/);
});

test("records longer than the tail window are recovered", async (t) => {
  const file = join(await tempDir(t), "audit.jsonl");
  const first = await AuditLog.open(file, "gw-1");
  let last;
  for (let i = 0; i < 3; i++) last = await first.append({ ...event(i), reason: "x".repeat(100_000) });
  await first.close();
  await appendFile(file, "{partial");
  const second = await openLog(t, file);
  const next = await second.append(event(3));
  assert.equal(next.prevHash, last!.hash);
  assert.equal((await verifyAuditFile(file)).ok, true);
});

test("an empty file opens and verifies", async (t) => {
  const file = join(await tempDir(t), "audit.jsonl");
  await writeFile(file, "");
  const log = await openLog(t, file);
  assert.equal(log.repairedBytes, 0);
  assertIntact(await verifyAuditFile(file), 0);
});

test("verifyAuditFile names an altered line in a written file", async (t) => {
  const file = join(await tempDir(t), "audit.jsonl");
  const log = await openLog(t, file);
  for (let i = 0; i < 4; i++) await log.append(event(i));
  const lines = await readLines(file);
  lines[1] = lines[1]!.replace('"region":"eu-central-1"', '"region":"us-east-1"');
  await writeFile(file, lines.join("\n") + "\n");
  const v = await verifyAuditFile(file);
  assert.equal(v.ok, false);
  assert.deepEqual(v.problems.map((p) => p.line), [2]);
});

test("verifyAuditFile rejects a missing file", async (t) => {
  const dir = await tempDir(t);
  await assert.rejects(verifyAuditFile(join(dir, "nope.jsonl")), /ENOENT/);
});

import { test, type TestContext } from "node:test";
import assert from "node:assert/strict";
import { appendFile, open, readdir, readFile, stat, writeFile } from "node:fs/promises";
import { join } from "node:path";
import { GENESIS_HASH } from "@enclave/contracts";
import { checkpointSigner } from "../chain/checkpoint.js";
import { entryHash } from "../record-hash.js";
import { deniedEvent, openWithDsync, routedEvent, tempDir } from "../testing/fixtures.js";
import { verifyAuditPath } from "../verify.js";
import { SpoolBudget } from "./budget.js";
import { encodeFrame } from "./frame.js";
import { Spool, SpoolFullError, type SpoolOptions } from "./spool.js";
import { generateKeyPairSync } from "node:crypto";
import { waitFor } from "@enclave/runtime";

function options(dir: string, o: Partial<SpoolOptions> = {}): SpoolOptions {
  return {
    dir, emitter: "gw-1", chain: "eu-central-1", segmentBytes: 1024 * 1024, groupCommit: { maxDelayMs: 2, maxBytes: 1024 * 1024 },
    maxRecordBytes: 60_000, budget: new SpoolBudget(1024 * 1024 * 1024, "fail-closed", 8192), ...o,
  };
}

async function openSpool(t: TestContext, o: SpoolOptions): Promise<Spool> {
  const s = await Spool.open(o);
  t.after(() => s.close());
  return s;
}

async function assertWhole(dir: string, records: number): Promise<void> {
  const v = await verifyAuditPath(dir);
  assert.deepEqual(v.problems, []);
  assert.equal(v.records, records);
}

test("appends are chained, written with a segment header, and verify", async (t) => {
  const dir = join(await tempDir(t), "eu-central-1");
  const s = await openSpool(t, options(dir));
  const r0 = await s.append(routedEvent(0));
  const r1 = await s.append(deniedEvent());
  assert.equal(r0.seq, 0);
  assert.equal(r0.prevHash, GENESIS_HASH);
  assert.equal(r0.chain, "eu-central-1");
  assert.equal(r0.emitter, "gw-1");
  assert.equal(r0.hash, entryHash(r0));
  assert.equal(r1.seq, 1);
  assert.equal(r1.prevHash, r0.hash);
  assert.deepEqual(await readdir(dir), ["00000000000000000000.seg"]);
  assert.equal(await openWithDsync("self", join(dir, "00000000000000000000.seg")), true, "durable: the segment is open with O_DSYNC");
  const lines = (await readFile(join(dir, "00000000000000000000.seg"), "utf8")).split("\n").filter(Boolean);
  assert.equal(lines.length, 3);
  assert.match(lines[0]!, /^[0-9a-f]{8} \{.*"kind":"segment"/);
  assert.deepEqual(JSON.parse(lines[2]!.slice(9)), r1);
  assert.equal((await stat(join(dir, "00000000000000000000.seg"))).mode & 0o777, 0o600);
  await assertWhole(dir, 2);
});

test("concurrent appends share synchronous writes (group commit) and keep call order", async (t) => {
  const s = await openSpool(t, options(join(await tempDir(t), "c"), { groupCommit: { maxDelayMs: 5, maxBytes: 1024 * 1024 } }));
  const records = await Promise.all(Array.from({ length: 300 }, (_, i) => s.append(routedEvent(i))));
  assert.deepEqual(records.map((r) => r.seq), records.map((_, i) => i));
  assert.deepEqual(records.map((r) => r.promptTokens), records.map((_, i) => i));
  assert.equal(s.appended, 300);
  assert.ok(s.commits < 30, `300 concurrent appends took ${s.commits} commits`);
});

test("a batch reaching maxBytes is written without waiting out the delay", async (t) => {
  const s = await openSpool(t, options(join(await tempDir(t), "c"), { groupCommit: { maxDelayMs: 60_000, maxBytes: 4096 } }));
  // With a one-minute delay, only the size bound can get these written before the test times out.
  const records = await Promise.all(Array.from({ length: 20 }, (_, i) => s.append(routedEvent(i))));
  assert.equal(records.length, 20);
});

test("group commit: an idle spool writes at once whatever maxDelayMs, a busy one at most one batch per window", { timeout: 30_000 }, async (t) => {
  const s = await openSpool(t, options(join(await tempDir(t), "c"), { groupCommit: { maxDelayMs: 60_000, maxBytes: 1024 * 1024 } }));
  // With a one-minute window, only "no write started in the last window" gets this one written.
  const t0 = performance.now();
  await s.append(routedEvent(0));
  assert.ok(performance.now() - t0 < 5000, "a lone append did not wait out the window");

  // maxBytes out of reach: only the window bounds the batches.
  const busy = await openSpool(t, options(join(await tempDir(t), "b"), { groupCommit: { maxDelayMs: 20, maxBytes: 64 * 1024 * 1024 } }));
  const pending: Promise<unknown>[] = [];
  const start = performance.now();
  while (performance.now() - start < 200) {
    pending.push(busy.append(routedEvent(pending.length)));
    await new Promise((r) => setImmediate(r));
  }
  await Promise.all(pending);
  const windows = Math.ceil((performance.now() - start) / 20);
  // About one write per window (a loop stalled past the rate's memory may write a batch at once);
  // back to back, as with maxDelayMs 0, it is over a hundred here.
  assert.ok(busy.commits <= 2 * windows + 4, `${pending.length} appends over ${windows} windows took ${busy.commits} writes`);
});

test("the records appended in one event-loop turn share one write, in either acknowledge mode", async (t) => {
  for (const acknowledge of ["durable", "written"] as const) {
    const dir = join(await tempDir(t), acknowledge);
    const s = await openSpool(t, options(dir, { acknowledge, groupCommit: { maxDelayMs: 2, maxBytes: 1024 * 1024 } }));
    // Too few to make the spool busy: no window, so only the turn groups them.
    const records = await Promise.all([0, 1, 2].map((i) => s.append(routedEvent(i))));
    assert.deepEqual(records.map((r) => r.seq), [0, 1, 2]);
    await waitFor(() => s.appended === 3, { timeoutMs: 5000, what: `${acknowledge}: the three records durable` });
    // durable: one O_DSYNC write; written: one write, then one fdatasync.
    assert.equal(s.commits, 1, `${acknowledge}: three records of one turn took ${s.commits} writes`);
    await assertWhole(dir, 3);
  }
});

test("a batch that falls due while the event loop is still busy appending is written then, not after the burst", async (t) => {
  const dir = join(await tempDir(t), "c");
  const s = await openSpool(t, options(dir, { groupCommit: { maxDelayMs: 5, maxBytes: 1024 * 1024 } }));
  // One synchronous burst, three times as long as the delay: no timer can fire during it.
  const pending: Promise<unknown>[] = [s.append(routedEvent(0))];
  const first = performance.now();
  while (performance.now() - first < 15) pending.push(s.append(routedEvent(pending.length)));
  pending.push(s.append(routedEvent(pending.length))); // at least one append after the batch fell due
  await Promise.all(pending);
  assert.ok(s.commits >= 2, `a ${pending.length}-record burst was written as ${s.commits} batch(es): the first waited for the burst to end`);
  await assertWhole(dir, pending.length);
});

test("an invalid or oversized event is refused and the chain goes on unbroken", async (t) => {
  const dir = join(await tempDir(t), "c");
  const s = await openSpool(t, options(dir, { maxRecordBytes: 4096 }));
  await s.append(routedEvent(1));
  await assert.rejects(s.append({ ...routedEvent(2), promptTokens: -1 }), /invalid audit event: promptTokens/);
  await assert.rejects(s.append({ ...routedEvent(2), latencyMs: NaN }), /invalid audit event/);
  await assert.rejects(s.append({ ...routedEvent(2), reason: "x".repeat(5000) }), /exceeds maxRecordBytes 4096/);
  const r = await s.append(routedEvent(3));
  assert.equal(r.seq, 1);
  await assertWhole(dir, 2);
});

test("reopening continues the chain; a torn tail is moved aside and cut", async (t) => {
  const dir = join(await tempDir(t), "c");
  const first = await Spool.open(options(dir));
  await first.append(routedEvent(0));
  const good = await first.append(routedEvent(1));
  await first.close();
  await assert.rejects(first.append(routedEvent(2)), /closed/);
  // A crash mid-batch: one whole frame that lost its last bytes, then half of another.
  const torn = Buffer.concat([encodeFrame('{"seq":2,"x":1}').subarray(0, 12), Buffer.from("\n"), encodeFrame('{"seq":3}').subarray(0, 9)]);
  await appendFile(join(dir, "00000000000000000000.seg"), torn);

  const second = await openSpool(t, options(dir));
  assert.equal(second.repairedBytes, torn.length);
  const aside = (await readdir(dir)).filter((n) => n.endsWith(".torn"));
  assert.equal(aside.length, 1);
  assert.deepEqual(await readFile(join(dir, aside[0]!)), torn);
  const next = await second.append(routedEvent(2));
  assert.equal(next.seq, 2);
  assert.equal(next.prevHash, good.hash);
  await assertWhole(dir, 3);
});

test("a whole entry that does not continue the chain is not cut: opening fails", async (t) => {
  const dir = join(await tempDir(t), "c");
  const s = await Spool.open(options(dir));
  const r = await s.append(routedEvent(0));
  await s.close();
  await appendFile(join(dir, "00000000000000000000.seg"), encodeFrame(JSON.stringify({ ...r, seq: 5 })));
  await assert.rejects(Spool.open(options(dir)), /does not continue the chain \(expected seq 1\).*not a torn write/);
});

test("another emitter's or chain's directory is refused", async (t) => {
  const dir = join(await tempDir(t), "c");
  await (await Spool.open(options(dir))).close();
  await assert.rejects(Spool.open(options(dir, { emitter: "gw-2" })), /holds chain 'eu-central-1' of emitter 'gw-1'/);
  await assert.rejects(Spool.open(options(dir, { chain: "us-east-1" })), /not 'us-east-1'/);
});

test("segments rotate at segmentBytes, named by first seq, and the chain spans them", async (t) => {
  const dir = join(await tempDir(t), "c");
  const budget = new SpoolBudget(1024 * 1024 * 1024, "fail-closed", 8192);
  const s = await Spool.open(options(dir, { segmentBytes: 4096, budget }));
  for (let i = 0; i < 40; i++) await s.append(routedEvent(i));
  const segs = s.segments();
  assert.ok(segs.length >= 5, `${segs.length} segments`);
  assert.deepEqual(segs.map((x) => x.sealed), [...segs.slice(1).map(() => true), false]);
  assert.equal(budget.used, segs.reduce((n, x) => n + x.size, 0));
  for (const seg of segs.slice(1)) {
    const header = JSON.parse((await readFile(join(dir, seg.name), "utf8")).split("\n")[0]!.slice(9)) as { firstSeq: number };
    assert.equal(seg.name, `${String(header.firstSeq).padStart(20, "0")}.seg`);
  }
  await s.close();
  const again = await openSpool(t, options(dir, { segmentBytes: 4096 }));
  assert.equal((await again.append(routedEvent(40))).seq, 40);
  await assertWhole(dir, 41);

  const before = again.segments();
  assert.equal(await again.deleteBefore(before[2]!.name), 2);
  assert.deepEqual(again.segments().map((x) => x.name), before.slice(2).map((x) => x.name));
  assert.equal(await again.deleteBefore("99999999999999999999.seg"), before.length - 3, "the active segment is never deleted");
  // What is left still verifies: a later part of the chain, its first segment's header says where it starts.
  await assertWhole(dir, (await verifyAuditPath(dir)).records);
});

test("fail-closed: over the budget, appends without an admission are refused; admitted ones are written", async (t) => {
  const budget = new SpoolBudget(8192, "fail-closed", 1024);
  const s = await openSpool(t, options(join(await tempDir(t), "c"), { budget }));
  const admission = budget.admit();
  assert.ok(admission);
  let refused: unknown = null;
  for (let i = 0; i < 100 && refused === null; i++) await s.append(routedEvent(i)).catch((e: unknown) => (refused = e));
  assert.ok(refused instanceof SpoolFullError, String(refused));
  const r = await s.append(routedEvent(1000), true);
  assert.equal(r.promptTokens, 1000);
  admission.release();
});

test("a checkpoint is a chain entry; uncheckpointed says whether records follow the last one", async (t) => {
  const dir = join(await tempDir(t), "c");
  const s = await openSpool(t, options(dir));
  const { privateKey } = generateKeyPairSync("ed25519");
  const signer = checkpointSigner(privateKey.export({ type: "pkcs8", format: "pem" }).toString());
  assert.equal(s.uncheckpointed, false);
  const r = await s.append(routedEvent(0));
  assert.equal(s.uncheckpointed, true);
  const c = await s.appendCheckpoint(signer);
  assert.equal(s.uncheckpointed, false);
  assert.equal(c.seq, 1);
  assert.equal(c.prevHash, r.hash);
  assert.equal(c.keyId, signer.keyId);
  await assertWhole(dir, 2);
});

test("a crash while a segment is being created leaves no half segment", async (t) => {
  const dir = join(await tempDir(t), "c");
  await (await Spool.open(options(dir))).close();
  await writeFile(join(dir, "00000000000000000007.seg.tmp"), "0000");
  const s = await openSpool(t, options(dir));
  assert.deepEqual((await readdir(dir)).filter((n) => n.includes(".seg")), ["00000000000000000000.seg"]);
  assert.equal((await s.append(routedEvent(0))).seq, 0);
});

test("acknowledge written: an append resolves once its batch is in the file; the fdatasync behind it makes it durable, then it is readable for shipping", async (t) => {
  const dir = join(await tempDir(t), "w");
  const s = await openSpool(t, options(dir, { acknowledge: "written", groupCommit: { maxDelayMs: 0, maxBytes: 1024 * 1024 } }));
  let durableCalls = 0;
  s.onDurable(() => durableCalls++);
  const file = join(dir, "00000000000000000000.seg");
  assert.equal(await openWithDsync("self", file), false, "the segment is open without O_DSYNC");
  for (let i = 0; i < 20; i++) {
    const r = await s.append(routedEvent(i));
    // In the file (the page cache) when acknowledged: a crash of the process cannot lose it.
    assert.ok((await readFile(file, "utf8")).includes(`"hash":"${r.hash}"`), `record ${i} is in the file when acknowledged`);
  }
  const size = (await stat(file)).size;
  await waitFor(() => s.durableTail.nextSeq === 20 && s.segments().at(-1)!.size === size, { timeoutMs: 5000, intervalMs: 5, what: "the synced tail to reach the written one" });
  assert.ok(durableCalls > 0);
  assert.equal(s.appended, 20);
  await assertWhole(dir, 20);
});

test("acknowledge written: the fdatasync behind a batch is started only after the appends it acknowledged were answered", async (t) => {
  const dir = join(await tempDir(t), "w");
  const s = await openSpool(t, options(dir, { acknowledge: "written", groupCommit: { maxDelayMs: 0, maxBytes: 1024 * 1024 } }));
  // Dispatching an fdatasync wakes a threadpool thread, which on a busy core runs ahead of the answers.
  const probe = await open(join(await tempDir(t), "probe"), "w");
  const proto = Object.getPrototypeOf(probe) as { datasync: () => Promise<void> };
  await probe.close();
  const datasync = proto.datasync;
  const order: string[] = [];
  proto.datasync = function (this: unknown) {
    order.push("fdatasync");
    return datasync.call(this);
  };
  t.after(() => void (proto.datasync = datasync));
  await s.append(routedEvent(0)).then(() => order.push("answered"));
  await waitFor(() => s.appended === 1, { timeoutMs: 5000, what: "the record durable" });
  assert.deepEqual(order, ["answered", "fdatasync"]);
});

test("acknowledge written: concurrent appends keep call order, segments rotate only when synced, and reopening continues the chain", async (t) => {
  const dir = join(await tempDir(t), "w");
  const budget = new SpoolBudget(1024 * 1024 * 1024, "fail-closed", 8192);
  const o = options(dir, { acknowledge: "written", segmentBytes: 4096, budget, groupCommit: { maxDelayMs: 0, maxBytes: 1024 * 1024 } });
  const s = await Spool.open(o);
  const records = [];
  for (let g = 0; g < 20; g++) records.push(...(await Promise.all(Array.from({ length: 10 }, (_, i) => s.append(routedEvent(g * 10 + i))))));
  assert.deepEqual(records.map((r) => r.seq), records.map((_, i) => i));
  await s.close();
  assert.equal(s.appended, 200, "close waits for the last sync");
  const segs = s.segments();
  assert.ok(segs.length >= 5, `${segs.length} segments`);
  for (const seg of segs) assert.equal(seg.size, (await stat(join(dir, seg.name))).size, `${seg.name}: every written byte synced`);
  assert.equal(budget.used, segs.reduce((n, x) => n + x.size, 0));
  const again = await openSpool(t, { ...o, budget: new SpoolBudget(1024 * 1024 * 1024, "fail-closed", 8192) });
  assert.equal((await again.append(routedEvent(200))).seq, 200);
  await assertWhole(dir, 201);
});

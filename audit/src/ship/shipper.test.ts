import { test, type TestContext } from "node:test";
import assert from "node:assert/strict";
import { writeFile } from "node:fs/promises";
import { join } from "node:path";
import { waitFor } from "@enclave/runtime/time";
import { silentLogger } from "../logger.js";
import { SpoolBudget } from "../spool/budget.js";
import type { SpooledEntry } from "../spool/spool-reader.js";
import { Spool } from "../spool/spool.js";
import { routedEvent, tempDir } from "../testing/fixtures.js";
import { Shipper, type ShippingOptions } from "./shipper.js";
import type { AuditSink } from "./sink.js";

/** Stands in for a receiver: keeps what it acknowledged; fails while `down`. */
class MemorySink implements AuditSink {
  readonly name = "memory://test";
  readonly received: SpooledEntry[] = [];
  deliveries = 0;
  down = false;
  async deliver(entries: readonly SpooledEntry[]): Promise<void> {
    this.deliveries++;
    if (this.down) throw new Error("connect ECONNREFUSED");
    this.received.push(...entries);
  }
  seqs(): number[] {
    return this.received.map((e) => e.seq);
  }
}

const fast: ShippingOptions = { batchRecords: 7, batchBytes: 1 << 20, timeoutMs: 5000, pollMs: 50, lingerMs: 0, backoff: { initialMs: 10, maxMs: 40 } };

async function setup(t: TestContext, segmentBytes = 4096) {
  const dir = join(await tempDir(t), "eu-central-1");
  const budget = new SpoolBudget(1e9, "fail-closed", 1);
  const spool = await Spool.open({ dir, emitter: "gw", chain: "eu-central-1", segmentBytes, groupCommit: { maxDelayMs: 1, maxBytes: 1 << 20 }, maxRecordBytes: 60_000, budget });
  t.after(() => spool.close());
  return { dir, spool, budget };
}

async function startShipper(t: TestContext, spool: Spool, sink: AuditSink, o = fast): Promise<Shipper> {
  const s = await Shipper.start(spool, sink, o, silentLogger);
  t.after(() => s.stop());
  return s;
}

const range = (n: number) => Array.from({ length: n }, (_, i) => i);

test("ships every entry in order, then deletes the segments wholly behind the acknowledged position", async (t) => {
  const { spool, budget } = await setup(t);
  const sink = new MemorySink();
  const shipper = await startShipper(t, spool, sink);
  for (let i = 0; i < 60; i++) await spool.append(routedEvent(i));
  await waitFor(() => sink.received.length === 60, { timeoutMs: 10_000, what: "60 shipped" });
  assert.deepEqual(sink.seqs(), range(60));
  assert.ok(sink.received.every((e) => e.chain === "eu-central-1" && JSON.parse(e.json).seq === e.seq));
  await waitFor(() => spool.segments().length === 1, { timeoutMs: 5000, what: "shipped segments deleted" });
  assert.equal(budget.used, spool.segments()[0]!.size);
  const s = shipper.stats();
  assert.equal(s.up, true);
  assert.equal(s.shipped, 60);
  assert.equal(s.backlogRecords, 0);
  assert.equal(s.backlogAgeSeconds, 0);
});

test("a sink outage delays, loses nothing, and the backlog drains in order on recovery", async (t) => {
  const { spool } = await setup(t);
  const sink = new MemorySink();
  sink.down = true;
  const shipper = await startShipper(t, spool, sink);
  for (let i = 0; i < 30; i++) await spool.append(routedEvent(i));
  await waitFor(() => sink.deliveries >= 3, { timeoutMs: 5000, what: "retries" });
  const during = shipper.stats();
  assert.equal(during.up, false);
  assert.equal(during.backlogRecords, 30);
  assert.ok(during.backlogBytes > 0);
  assert.match(during.lastError ?? "", /ECONNREFUSED/);
  assert.ok(spool.segments().length > 1, "nothing is deleted while unshipped");
  sink.down = false;
  await waitFor(() => sink.received.length === 30, { timeoutMs: 10_000, what: "backlog drained" });
  assert.deepEqual(sink.seqs(), range(30));
  assert.ok(shipper.stats().failures >= 3);
});

test("a restarted shipper continues from the saved position; without one it starts over (duplicates, never gaps)", async (t) => {
  const { dir, spool } = await setup(t, 1 << 20);
  const sink = new MemorySink();
  const first = await Shipper.start(spool, sink, fast, silentLogger);
  for (let i = 0; i < 20; i++) await spool.append(routedEvent(i));
  await waitFor(() => sink.received.length === 20, { timeoutMs: 5000, what: "20 shipped" });
  await first.stop();
  for (let i = 20; i < 25; i++) await spool.append(routedEvent(i));
  await startShipper(t, spool, sink);
  await waitFor(() => sink.received.length === 25, { timeoutMs: 5000, what: "the rest shipped" });
  assert.deepEqual(sink.seqs(), range(25));

  const again = new MemorySink();
  await writeFile(join(dir, "shipped.json"), "{torn");
  await startShipper(t, spool, again);
  await waitFor(() => again.received.length === 25, { timeoutMs: 5000, what: "everything again" });
  assert.deepEqual(again.seqs(), range(25));
});

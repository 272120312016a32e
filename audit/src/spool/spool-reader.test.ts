import { test } from "node:test";
import assert from "node:assert/strict";
import { join } from "node:path";
import { routedEvent, tempDir } from "../testing/fixtures.js";
import { SpoolBudget } from "./budget.js";
import { SpoolReader } from "./spool-reader.js";
import { Spool } from "./spool.js";

test("reads durable entries across segments in order, skipping headers, within the limits", async (t) => {
  const dir = join(await tempDir(t), "c");
  const s = await Spool.open({ dir, emitter: "gw", chain: "c", segmentBytes: 4096, groupCommit: { maxDelayMs: 1, maxBytes: 65536 }, maxRecordBytes: 60_000, budget: new SpoolBudget(1e9, "fail-closed", 1) });
  t.after(() => s.close());
  const written = [];
  for (let i = 0; i < 30; i++) written.push(await s.append(routedEvent(i)));
  assert.ok(s.segments().length > 2);
  const r = new SpoolReader(s);
  t.after(() => r.close());
  let pos = r.start();
  const seen: number[] = [];
  for (;;) {
    const b = await r.read(pos, 7, 1e9);
    if (b.entries.length === 0) {
      assert.equal(b.atEnd, true);
      break;
    }
    assert.ok(b.entries.length <= 7);
    for (const e of b.entries) {
      seen.push(e.seq);
      assert.deepEqual(JSON.parse(e.json), written[e.seq]);
      assert.equal(e.kind, "record");
      assert.equal(e.chain, "c");
      assert.equal(e.emitter, "gw");
    }
    pos = b.next;
  }
  assert.deepEqual(seen, written.map((w) => w.seq));

  // Appended but not yet durable: not visible.
  const pending = s.append(routedEvent(99));
  assert.equal((await r.read(pos, 100, 1e9)).entries.length, 0);
  await pending;
  const after = await r.read(pos, 100, 1e9);
  assert.deepEqual(after.entries.map((e) => e.seq), [30]);
});

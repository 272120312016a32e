import { test } from "node:test";
import assert from "node:assert/strict";
import { sha256Hex } from "../record-hash.js";
import { BatchBuffer } from "./batch-buffer.js";
import { decodeFrame, encodeFrame } from "./frame.js";

/** The frame of a record as the format defines it: its canonical JSON with the hash appended last. */
const expected = (canonical: string) => encodeFrame(`${canonical.slice(0, -1)},"hash":"${sha256Hex(canonical)}"}`);

const samples = [
  JSON.stringify({ a: 1, b: "plain" }),
  JSON.stringify({ reason: "température ✓ 推論 😀", q: '"\\]' }),
  JSON.stringify({ lone: "\ud800 and \udfff", ctl: "\u0000\u001f\u007f\u0085" }),
  JSON.stringify({ big: "x".repeat(70_000) }),
];

test("a staged record is the format's frame, its hash is sha256 of the canonical JSON, and it decodes", () => {
  const b = new BatchBuffer(64);
  for (const c of samples) {
    const { hash, bytes } = b.stageRecord(c);
    assert.equal(hash, sha256Hex(c));
    b.commit(bytes);
  }
  const taken = b.take();
  assert.deepEqual(taken, Buffer.concat(samples.map(expected)));
  let at = 0;
  for (const c of samples) {
    const nl = taken.indexOf(0x0a, at);
    const f = decodeFrame(taken.subarray(at, nl));
    assert.ok(f.ok);
    assert.deepEqual(JSON.parse(f.json), { ...JSON.parse(c), hash: sha256Hex(c) });
    at = nl + 1;
  }
});

test("only committed frames are taken; a staged one that is refused leaves nothing behind", () => {
  const b = new BatchBuffer(4096);
  b.commit(b.stageRecord(samples[0]!).bytes);
  b.stageRecord(samples[1]!); // refused by the caller: never committed
  const checkpoint = encodeFrame('{"kind":"checkpoint"}');
  b.commit(b.stageFrame(checkpoint));
  assert.deepEqual(b.take(), Buffer.concat([expected(samples[0]!), checkpoint]));
  assert.equal(b.length, 0);
});

test("taken bytes stay intact while the next batch fills, and the buffer is reused once released", () => {
  const b = new BatchBuffer(4096);
  b.commit(b.stageRecord(samples[0]!).bytes);
  const first = b.take();
  const copy = Buffer.from(first);
  b.commit(b.stageRecord(samples[1]!).bytes); // written while `first` is "in flight"
  assert.deepEqual(first, copy);
  b.release();
  const second = b.take();
  assert.deepEqual(second, expected(samples[1]!));
  b.commit(b.stageRecord(samples[2]!).bytes); // now into `first`'s memory, released before
  assert.deepEqual(second, expected(samples[1]!));
  assert.deepEqual(b.take(), expected(samples[2]!));
  b.clear();
  assert.equal(b.length, 0);
});

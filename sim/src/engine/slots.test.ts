import { test } from "node:test";
import assert from "node:assert/strict";
import { SequenceSlots, type SlotTicket } from "./slots.js";

const settled = async (p: Promise<void>): Promise<boolean> => {
  let done = false;
  void p.then(() => (done = true));
  // Two turns of the microtask queue are enough for an already-resolved promise to report.
  await Promise.resolve();
  await Promise.resolve();
  return done;
};

test("grants up to maxRunning at once, the rest wait", async () => {
  const s = new SequenceSlots(2, 10);
  const a = s.request() as SlotTicket;
  const b = s.request() as SlotTicket;
  const c = s.request() as SlotTicket;
  assert.equal(s.running, 2);
  assert.equal(s.waiting, 1);
  assert.equal(await settled(a.granted), true);
  assert.equal(await settled(b.granted), true);
  assert.equal(await settled(c.granted), false);
  a.release();
  assert.equal(await settled(c.granted), true);
  assert.deepEqual([s.running, s.waiting], [2, 0]);
});

test("waiters are served first come, first served", async () => {
  const s = new SequenceSlots(1, 10);
  const first = s.request() as SlotTicket;
  const order: number[] = [];
  const waiters = [1, 2, 3].map((i) => {
    const t = s.request() as SlotTicket;
    void t.granted.then(() => order.push(i));
    return t;
  });
  first.release();
  await settled(Promise.resolve());
  for (const w of waiters) {
    w.release();
    await settled(Promise.resolve());
  }
  assert.deepEqual(order, [1, 2, 3]);
  assert.deepEqual([s.running, s.waiting], [0, 0]);
});

test("a full waiting line refuses, and a released waiter leaves the line without taking a slot", async () => {
  const s = new SequenceSlots(1, 1);
  const a = s.request() as SlotTicket;
  const b = s.request() as SlotTicket;
  assert.equal(s.request(), null);
  b.release();
  assert.equal(s.waiting, 0);
  assert.equal(s.running, 1);
  a.release();
  assert.equal(s.running, 0);
  assert.equal(await settled(b.granted), false);
});

test("release is idempotent: a second release does not free someone else's slot", () => {
  const s = new SequenceSlots(1, 5);
  const a = s.request() as SlotTicket;
  const b = s.request() as SlotTicket;
  a.release();
  a.release();
  assert.equal(s.running, 1, "b holds the only slot");
  b.release();
  assert.equal(s.running, 0);
});

test("rejects nonsense limits", () => {
  assert.throws(() => new SequenceSlots(0, 1), RangeError);
  assert.throws(() => new SequenceSlots(1, -1), RangeError);
});

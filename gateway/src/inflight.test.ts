import { test } from "node:test";
import assert from "node:assert/strict";
import { InFlight } from "./inflight.js";

test("counts per backend; release is idempotent and forgets idle backends", () => {
  const f = new InFlight();
  const r1 = f.acquire("a");
  const r2 = f.acquire("a");
  f.acquire("b");
  assert.equal(f.count("a"), 2);
  assert.equal(f.count("b"), 1);
  r1();
  r1();
  assert.equal(f.count("a"), 1);
  r2();
  assert.equal(f.count("a"), 0);
  assert.equal(f.count("never"), 0);
});

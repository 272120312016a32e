import { test } from "node:test";
import assert from "node:assert/strict";
import { admits, fits, SpoolBudget } from "./budget.js";

test("fits counts written, pending and reserved bytes against the limit", () => {
  const s = { limit: 100, policy: "fail-closed" as const, used: 50, pending: 20, reserved: 20 };
  assert.equal(fits(s, 10), true);
  assert.equal(fits(s, 11), false);
});

test("fail-closed admits only what is sure to fit; alert-only admits always", () => {
  const full = { limit: 100, policy: "fail-closed" as const, used: 95, pending: 0, reserved: 0 };
  assert.equal(admits(full, 8), false);
  assert.equal(admits({ ...full, used: 90 }, 8), true);
  assert.equal(admits({ ...full, policy: "alert-only" }, 8), true);
});

test("admissions reserve space until released, once", () => {
  const b = new SpoolBudget(100, "fail-closed", 40);
  const a1 = b.admit();
  const a2 = b.admit();
  assert.ok(a1 && a2);
  assert.equal(b.admit(), null, "a third would not fit");
  assert.equal(b.refused, 1);
  assert.equal(b.exhausted, true);
  a1.release();
  a1.release();
  assert.equal(b.reserved, 40);
  assert.ok(b.admit());
});

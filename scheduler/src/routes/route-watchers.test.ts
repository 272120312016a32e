import assert from "node:assert/strict";
import { describe, it } from "node:test";
import { EMPTY_ROUTE_TABLE, type RouteTable } from "@enclave/contracts";
import { RouteWatchers } from "./route-watchers.js";

const table = (version: number): RouteTable => ({ ...EMPTY_ROUTE_TABLE, version });

describe("RouteWatchers", () => {
  it("wakes only the waiters older than the published version", async () => {
    let current = table(5);
    const w = new RouteWatchers(10, () => current);
    const a = w.watch(5, 60000);
    const b = w.watch(7, 60000);
    assert.ok(a.ok && b.ok);
    current = table(6);
    w.publish(current);
    assert.equal((await a.wait).version, 6);
    assert.equal(w.size, 1, "the waiter that already has 7 keeps waiting");
    b.cancel();
    assert.equal((await b.wait).version, 6, "a cancelled waiter gets the current table");
    assert.equal(w.size, 0);
  });

  it("answers with the current table on timeout", async () => {
    const w = new RouteWatchers(10, () => table(3));
    const a = w.watch(3, 20);
    assert.ok(a.ok);
    assert.equal((await a.wait).version, 3);
    assert.equal(w.size, 0);
  });

  it("is bounded, and refuses new waiters once closed after answering the others", async () => {
    const w = new RouteWatchers(2, () => table(1));
    const a = w.watch(1, 60000);
    const b = w.watch(1, 60000);
    assert.deepEqual(w.watch(1, 60000), { ok: false, reason: "full" });
    w.close();
    assert.ok(a.ok && b.ok);
    assert.deepEqual([(await a.wait).version, (await b.wait).version], [1, 1]);
    assert.deepEqual(w.watch(1, 60000), { ok: false, reason: "closing" });
  });
});

import { test } from "node:test";
import assert from "node:assert/strict";
import type { RouteEntry, RouteTable } from "@enclave/contracts";
import { affinityKey, rendezvousPick } from "./affinity.js";
import { Breakers, breakerAdmits, CLOSED, onAttempt, onFault, onSuccess } from "./breaker.js";
import { compliantBackends } from "./filter.js";
import { pickBackend, type PickInput } from "./pick.js";
import { inflightScore, kvCacheScore, queueScore } from "./score.js";

function entry(backendId: string, region = "eu-central-1", extra: Partial<RouteEntry> = {}): RouteEntry {
  return { backendId, nodeId: `n-${backendId}`, model: "m", engine: "vllm", region, jurisdiction: region.startsWith("us") ? "US" : "EU", url: "http://127.0.0.1:1", load: null, ...extra };
}

test("filter: model, region, jurisdiction, ready, node not draining or failed", () => {
  const table: RouteTable = {
    version: 1, generatedAt: 0, models: [],
    entries: [
      entry("a"), entry("b", "eu-west-1"), entry("c", "us-east-1"), entry("d", "eu-central-1", { model: "other" }),
      entry("e", "eu-central-1", { state: "starting" }), entry("f", "eu-central-1", { nodeState: "draining" }),
      entry("g", "eu-central-1", { nodeState: "failed" }), entry("h", "eu-central-1", { jurisdiction: "CH" }),
      entry("i", "eu-central-1", { state: "ready", nodeState: "ready" }),
    ],
  };
  const ids = (regions: string[], jurisdictions?: string[]) => compliantBackends(table, { model: "m", regions, jurisdictions }).map((e) => e.backendId);
  assert.deepEqual(ids(["eu-central-1", "eu-west-1"]), ["a", "b", "h", "i"]);
  assert.deepEqual(ids(["eu-central-1", "eu-west-1"], ["EU"]), ["a", "b", "i"]);
  assert.deepEqual(ids(["us-east-1"], ["EU"]), []);
  assert.deepEqual(ids([]), []);
});

test("scorers follow their formulas", () => {
  assert.equal(inflightScore(0), 1);
  assert.equal(inflightScore(3), 0.25);
  assert.equal(queueScore(entry("a", "eu-central-1", { load: { running: 1, waiting: 4, kvCacheUsage: 0.25 } })), 0.2);
  assert.equal(kvCacheScore(entry("a", "eu-central-1", { load: { running: 1, waiting: 4, kvCacheUsage: 0.25 } })), 0.75);
  assert.equal(queueScore(entry("a")), 1);
});

const W = { inflight: 1, queue: 1, kvCache: 1, affinity: 0.3 };
function input(candidates: RouteEntry[], over: Partial<PickInput> = {}): PickInput {
  return { candidates, exclude: new Set(), inflight: () => 0, admits: () => true, affinityKey: undefined, weights: W, maxImbalance: 4, random: Math.random, ...over };
}

// Table-tested choices between two backends (power of two choices sees both).
const cases: { name: string; a: Partial<RouteEntry>; b: Partial<RouteEntry>; inflight?: [number, number]; want: "a" | "b" }[] = [
  { name: "fewer in flight here wins", a: {}, b: {}, inflight: [3, 1], want: "b" },
  { name: "shorter engine queue wins", a: { load: { running: 8, waiting: 0, kvCacheUsage: 0.5 } }, b: { load: { running: 8, waiting: 6, kvCacheUsage: 0.5 } }, want: "a" },
  { name: "emptier KV cache wins", a: { load: { running: 1, waiting: 0, kvCacheUsage: 0.9 } }, b: { load: { running: 1, waiting: 0, kvCacheUsage: 0.1 } }, want: "b" },
];
for (const c of cases) {
  test(`pick: ${c.name}`, () => {
    const [ia, ib] = c.inflight ?? [0, 0];
    const cand = [entry("a", "eu-central-1", c.a), entry("b", "eu-central-1", c.b)];
    for (let i = 0; i < 20; i++) {
      assert.equal(pickBackend(input(cand, { inflight: (id) => (id === "a" ? ia : ib) }))?.entry.backendId, c.want);
    }
  });
}

test("pick: excluded and breaker-open backends are never picked; none left is undefined", () => {
  const cand = [entry("a"), entry("b"), entry("c")];
  for (let i = 0; i < 50; i++) {
    const p = pickBackend(input(cand, { exclude: new Set(["a"]), admits: (id) => id !== "b" }));
    assert.equal(p?.entry.backendId, "c");
  }
  assert.equal(pickBackend(input(cand, { exclude: new Set(["a", "b", "c"]) })), undefined);
  assert.equal(pickBackend(input([])), undefined);
});

test("pick: the same conversation sticks to one backend while loads are even", () => {
  const cand = ["a", "b", "c", "d"].map((id) => entry(id));
  const key = affinityKey(undefined, "You are a helpful assistant. Summarise this contract: ...", 512);
  const target = rendezvousPick(key!, cand.map((c) => c.backendId));
  for (let i = 0; i < 50; i++) assert.equal(pickBackend(input(cand, { affinityKey: key }))?.entry.backendId, target);
  // A small imbalance does not move it; a busy target with an idle other does.
  const slightly = pickBackend(input(cand, { affinityKey: key, inflight: (id) => (id === target ? 3 : 2) }));
  assert.equal(slightly?.entry.backendId, target);
  const busy = pickBackend(input(cand, { affinityKey: key, inflight: (id) => (id === target ? 1 : 0) }));
  assert.notEqual(busy?.entry.backendId, target);
  const imbalanced = pickBackend(input(cand, { affinityKey: key, inflight: (id) => (id === target ? 10 : 2), weights: { ...W, affinity: 100 } }));
  assert.notEqual(imbalanced?.entry.backendId, target, "past maxImbalance affinity yields whatever its weight");
});

test("rendezvous: removing a backend moves only its own keys", () => {
  const ids = ["a", "b", "c", "d", "e"];
  let moved = 0;
  for (let i = 0; i < 500; i++) {
    const before = rendezvousPick(`k${i}`, ids)!;
    const after = rendezvousPick(`k${i}`, ids.filter((x) => x !== "c"))!;
    if (before !== "c") assert.equal(after, before);
    else moved++;
  }
  assert.ok(moved > 50 && moved < 150, `about a fifth of keys were on c (${moved})`);
  assert.equal(affinityKey("user-1", "abc", 10), "s:user-1");
  assert.equal(affinityKey(undefined, "abcdef", 3), "p:abc");
  assert.equal(affinityKey(undefined, "", 3), undefined);
});

test("pick: power of two choices spreads load over equal backends", () => {
  const cand = ["a", "b", "c", "d"].map((id) => entry(id));
  const seen = new Map<string, number>();
  for (let i = 0; i < 400; i++) {
    const id = pickBackend(input(cand))!.entry.backendId;
    seen.set(id, (seen.get(id) ?? 0) + 1);
  }
  assert.equal(seen.size, 4);
  for (const n of seen.values()) assert.ok(n > 50, JSON.stringify([...seen]));
});

test("breaker: opens after consecutive faults, half-opens for one probe, closes on success", () => {
  const c = { failureThreshold: 3, openMs: 1000 };
  let s = CLOSED;
  s = onFault(s, 0, c);
  s = onSuccess(s);
  s = onFault(onFault(s, 0, c), 0, c);
  assert.equal(s.kind, "closed");
  s = onFault(s, 10, c);
  assert.deepEqual(s, { kind: "open", until: 1010 });
  assert.equal(breakerAdmits(s, 500), false);
  assert.equal(breakerAdmits(s, 1010), true);
  s = onAttempt(s, 1010);
  assert.deepEqual(s, { kind: "half-open", probing: true });
  assert.equal(breakerAdmits(s, 1011), false, "one probe at a time");
  assert.equal(onFault(s, 2000, c).kind, "open");
  assert.deepEqual(onSuccess(s), CLOSED);
});

test("breakers: per backend, with state changes reported", () => {
  let now = 0;
  const changes: string[] = [];
  const b = new Breakers({ failureThreshold: 2, openMs: 100 }, (id, st) => changes.push(`${id}:${st}`), () => now);
  b.fault("x");
  assert.equal(b.admits("x"), true);
  b.fault("x");
  assert.equal(b.admits("x"), false);
  assert.equal(b.admits("y"), true);
  now = 100;
  assert.equal(b.admits("x"), true);
  b.attempt("x");
  assert.equal(b.admits("x"), false);
  b.success("x");
  assert.equal(b.admits("x"), true);
  assert.deepEqual(changes, ["x:open", "x:half-open", "x:closed"]);
});

import { test } from "node:test";
import assert from "node:assert/strict";
import { Counter, Histogram, Registry } from "prom-client";
import { HotCounter, HotHistogram } from "./hot-metrics.js";

const BUCKETS = [0.0005, 0.001, 0.0025, 0.01, 0.5];

function registries(): [Registry, Registry] {
  const a = new Registry();
  const b = new Registry();
  for (const r of [a, b]) r.setDefaultLabels({ component: "gateway" });
  return [a, b];
}

test("a hot histogram scrapes exactly as prom-client's, default labels included", async () => {
  const [reference, hot] = registries();
  const p = new Histogram({ name: "x_seconds", help: "what it measures", buckets: BUCKETS, registers: [reference] });
  const h = new HotHistogram("x_seconds", "what it measures", BUCKETS, hot);
  assert.equal(await hot.metrics(), await reference.metrics(), "empty");
  // On a bound, between bounds, under the first, over the last.
  for (const v of [0.0005, 0.0007, 0.0001, 3, 0.01, 0.0025, 0.2, 0.0005]) {
    p.observe(v);
    h.observe(v);
  }
  assert.equal(await hot.metrics(), await reference.metrics());
  hot.resetMetrics();
  assert.match(await hot.metrics(), /^x_seconds_count\{component="gateway"\} 0$/m, "zero after a reset (prom-client drops the series)");
});

test("a hot histogram drops a value that is not a finite number instead of throwing on the request path", async () => {
  const [, hot] = registries();
  const h = new HotHistogram("y_seconds", "y", BUCKETS, hot);
  h.observe(Number.NaN);
  h.observe(Infinity);
  h.observe(0.001);
  assert.match(await hot.metrics(), /^y_seconds_count\{component="gateway"\} 1$/m);
  assert.throws(() => new HotHistogram("z", "z", [], hot), /at least one/);
  assert.throws(() => new HotHistogram("z", "z", [1, 1], hot), /distinct/);
});

test("a hot counter's children count as prom-client's labelled counter, survive a reset, and refuse to go down", async () => {
  const [reference, hot] = registries();
  const p = new Counter({ name: "req_total", help: "requests", labelNames: ["model", "status"] as const, registers: [reference] });
  const c = new HotCounter("req_total", "requests", ["model", "status"] as const, hot);
  const ok = c.labels({ model: "m", status: "200" });
  const bad = c.labels({ status: "503", model: "m" });
  for (let i = 0; i < 3; i++) {
    ok.inc();
    p.inc({ model: "m", status: "200" });
  }
  bad.inc(2);
  p.inc({ model: "m", status: "503" }, 2);
  assert.equal(c.labels({ model: "m", status: "200" }), ok, "one child per label set");
  assert.equal(await hot.metrics(), await reference.metrics());
  bad.inc(-1);
  bad.inc(Number.NaN);
  assert.equal(await hot.metrics(), await reference.metrics());
  hot.resetMetrics();
  ok.inc();
  assert.match(await hot.metrics(), /^req_total\{model="m",status="200",component="gateway"\} 1$/m);
  assert.match(await hot.metrics(), /^req_total\{model="m",status="503",component="gateway"\} 0$/m);
});

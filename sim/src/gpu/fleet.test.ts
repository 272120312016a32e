import { test } from "node:test";
import assert from "node:assert/strict";
import { GpuTelemetry } from "@enclave/contracts";
import { SimGpuFleet } from "./fleet.js";

const H100 = "NVIDIA H100 80GB HBM3";
const T0 = 1_700_000_000_000;

test("UUIDs look like NVIDIA's, are stable per node and index, and differ otherwise", () => {
  const a = new SimGpuFleet({ nodeId: "gpu-1", count: 4, model: H100 }).read(T0);
  const again = new SimGpuFleet({ nodeId: "gpu-1", count: 4, model: H100 }).read(T0 + 1);
  const other = new SimGpuFleet({ nodeId: "gpu-2", count: 4, model: H100 }).read(T0);
  for (const g of a) assert.match(g.uuid, /^GPU-[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/);
  assert.deepEqual(a.map((g) => g.uuid), again.map((g) => g.uuid));
  assert.equal(new Set([...a, ...other].map((g) => g.uuid)).size, 8);
  assert.deepEqual(a.map((g) => g.index), [0, 1, 2, 3]);
});

test("readings satisfy the contract and an idle GPU reads idle", () => {
  const fleet = new SimGpuFleet({ nodeId: "n", count: 2, model: H100 });
  for (const g of fleet.read(T0)) {
    GpuTelemetry.parse(g);
    assert.equal(g.name, H100);
    assert.equal(g.memoryTotalMiB, 81559);
    assert.equal(g.powerLimitW, 700);
    assert.equal(g.utilizationPct, 0);
    assert.ok(g.memoryUsedMiB > 0 && g.memoryUsedMiB < 1024, "a small idle baseline");
    assert.ok(g.powerW !== null && g.powerW >= 50 && g.powerW <= 100);
    assert.ok(g.temperatureC !== null && g.temperatureC >= 25 && g.temperatureC <= 40);
    assert.deepEqual(g.health, { state: "healthy", reasons: [] });
  }
});

test("under load, temperature and power rise over time toward a plausible steady state, and fall back when idle", () => {
  const fleet = new SimGpuFleet({ nodeId: "n", count: 2, model: H100 });
  fleet.read(T0);
  fleet.setLoad(0, { utilization: 1, memoryUsedMiB: 70_000 });
  const series = [1_000, 5_000, 20_000, 60_000, 300_000].map((dt) => fleet.read(T0 + dt));
  const temps = series.map((r) => r[0]?.temperatureC as number);
  const powers = series.map((r) => r[0]?.powerW as number);
  for (let i = 1; i < series.length; i++) {
    assert.ok((temps[i] as number) >= (temps[i - 1] as number), `temperature rises: ${temps.join(", ")}`);
    assert.ok((powers[i] as number) >= (powers[i - 1] as number), `power rises: ${powers.join(", ")}`);
  }
  assert.ok((temps[4] as number) > (temps[0] as number) + 20);
  assert.ok((powers[0] as number) < 600 && (powers[4] as number) > 550, `power ${powers.join(", ")}`);
  for (const r of series) {
    const g = r[0] as GpuTelemetry;
    assert.ok((g.powerW as number) <= (g.powerLimitW as number));
    assert.ok((g.temperatureC as number) <= 85);
    assert.equal(g.utilizationPct, 100);
    assert.equal(g.memoryUsedMiB, 70_512);
  }
  const idle = series[4]?.[1] as GpuTelemetry;
  assert.equal(idle.utilizationPct, 0, "the other GPU is untouched");
  assert.ok((idle.temperatureC as number) < 40);

  fleet.setLoad(0, { utilization: 0, memoryUsedMiB: 0 });
  const cooled = fleet.read(T0 + 900_000)[0] as GpuTelemetry;
  assert.ok((cooled.temperatureC as number) < 40 && (cooled.powerW as number) < 100);
});

test("the same time series gives the same numbers; time going backwards changes nothing", () => {
  const run = () => {
    const f = new SimGpuFleet({ nodeId: "n", count: 1, model: "NVIDIA A100-SXM4-80GB" });
    const out = [f.read(T0)];
    f.setLoad(0, { utilization: 0.6, memoryUsedMiB: 1000 });
    out.push(f.read(T0 + 7_000), f.read(T0 + 3_000), f.read(T0 + 19_000));
    return out;
  };
  const a = run();
  assert.deepEqual(a, run());
  assert.deepEqual(a[2], a[1]);
});

test("memory use is capped at the GPU's total; model table and unknown names", () => {
  const l40s = new SimGpuFleet({ nodeId: "n", count: 1, model: "NVIDIA L40S" });
  l40s.setLoad(0, { utilization: 0.5, memoryUsedMiB: 1e9 });
  const g = l40s.read(T0)[0] as GpuTelemetry;
  assert.equal(g.memoryUsedMiB, 46068);
  assert.equal(g.powerLimitW, 350);
  const h200 = new SimGpuFleet({ nodeId: "n", count: 1, model: "NVIDIA H200" }).read(T0)[0] as GpuTelemetry;
  assert.equal(h200.memoryTotalMiB, 143771);
  const odd = new SimGpuFleet({ nodeId: "n", count: 1, model: "Some Future GPU" }).read(T0)[0] as GpuTelemetry;
  assert.equal(odd.name, "Some Future GPU");
  assert.equal(odd.memoryTotalMiB, 81559);
});

test("injectHealth overrides one GPU until cleared, and cannot be changed through the reading", () => {
  const fleet = new SimGpuFleet({ nodeId: "n", count: 2, model: H100 });
  const failed = { state: "failed" as const, reasons: ["volatile uncorrectable ECC error"] };
  fleet.injectHealth(1, failed);
  failed.reasons.push("mutated after the call");
  const r = fleet.read(T0);
  assert.deepEqual(r[1]?.health, { state: "failed", reasons: ["volatile uncorrectable ECC error"] });
  assert.deepEqual(r[0]?.health, { state: "healthy", reasons: [] });
  r[1]?.health.reasons.push("mutated reading");
  assert.deepEqual(fleet.read(T0)[1]?.health.reasons, ["volatile uncorrectable ECC error"]);
  fleet.injectHealth(1, null);
  assert.equal(fleet.read(T0)[1]?.health.state, "healthy");
});

test("bad indices and loads are programming errors", () => {
  const fleet = new SimGpuFleet({ nodeId: "n", count: 1, model: H100 });
  assert.throws(() => fleet.setLoad(1, { utilization: 0, memoryUsedMiB: 0 }), RangeError);
  assert.throws(() => fleet.setLoad(0, { utilization: 1.5, memoryUsedMiB: 0 }), RangeError);
  assert.throws(() => fleet.setLoad(0, { utilization: Number.NaN, memoryUsedMiB: 0 }), RangeError);
  assert.throws(() => fleet.setLoad(0, { utilization: 0.5, memoryUsedMiB: -1 }), RangeError);
  assert.throws(() => fleet.injectHealth(-1, null), RangeError);
  assert.throws(() => new SimGpuFleet({ nodeId: "n", count: 65, model: H100 }), RangeError);
  assert.deepEqual(new SimGpuFleet({ nodeId: "n", count: 0, model: H100 }).read(T0), []);
});

test("an injected uncorrectable ECC error shows in the counters and fails that GPU until cleared", () => {
  const fleet = new SimGpuFleet({ nodeId: "n", count: 2, model: H100 });
  const clean = fleet.read(T0);
  for (const g of clean) {
    assert.deepEqual(g.ecc, { mode: "enabled", correctedVolatile: 0, uncorrectedVolatile: 0, correctedAggregate: 0, uncorrectedAggregate: 0 });
    assert.deepEqual(g.remappedRows, { correctable: 0, uncorrectable: 0, pending: false, failure: false });
    assert.deepEqual(g.clockEventReasons, ["gpu_idle"]);
    assert.equal(g.temperatureSlowdownC, 89);
    assert.equal(g.smClockMHz, 345);
  }
  fleet.setFault(1, { eccUncorrectedVolatile: 2, eccCorrectedVolatile: 7 });
  const [ok, bad] = fleet.read(T0 + 1000) as [GpuTelemetry, GpuTelemetry];
  GpuTelemetry.parse(bad);
  assert.equal(ok.health.state, "healthy");
  assert.equal(ok.ecc?.uncorrectedVolatile, 0);
  assert.equal(bad.eccUncorrectedVolatile, 2);
  assert.equal(bad.ecc?.uncorrectedVolatile, 2);
  assert.equal(bad.ecc?.correctedVolatile, 7);
  assert.deepEqual(bad.health, { state: "failed", reasons: ["2 volatile uncorrectable ECC error(s)"] });
  fleet.setFault(1, {});
  assert.equal(fleet.read(T0 + 2000)[1]?.health.state, "healthy");
  assert.throws(() => fleet.setFault(2, { eccUncorrectedVolatile: 1 }), RangeError);
});

test("a busy GPU runs at its maximum clock and reports no idle clock event", () => {
  const fleet = new SimGpuFleet({ nodeId: "n", count: 1, model: H100 });
  fleet.setLoad(0, { utilization: 0.5, memoryUsedMiB: 1000 });
  const g = fleet.read(T0)[0] as GpuTelemetry;
  assert.equal(g.smClockMHz, 1980);
  assert.deepEqual(g.clockEventReasons, []);
  assert.ok((g.memoryTemperatureC as number) < (g.temperatureC as number));
});

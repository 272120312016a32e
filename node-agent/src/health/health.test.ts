import assert from "node:assert/strict";
import { describe, test } from "node:test";
import { HealthThresholds, type BmcStatus, type GpuTelemetry, type HealthState, type XidEvent } from "@enclave/contracts";
import { emptyReading, type GpuReading } from "../gpu/gpu-reading.js";
import { bmcFindings } from "./bmc-findings.js";
import { CountHistory, ratePerHour } from "./ecc-rate.js";
import { gpuHealth } from "./gpu-health.js";
import { nodeHealth } from "./node-health.js";

const T = HealthThresholds.parse({});
const NOW = Date.UTC(2026, 0, 10, 12);

/** A healthy, idle H100 as the real 590.48.01 capture shows it; each case changes what it tests. */
function reading(over: Partial<GpuReading> = {}): GpuReading {
  return {
    ...emptyReading("GPU-00000000-0000-0000-0000-000000000000"),
    index: 0,
    temperatureC: 41,
    temperatureSlowdownC: 89,
    temperatureShutdownC: 95,
    clockEventReasons: ["gpu_idle"],
    eccMode: "enabled",
    eccCorrectedVolatile: 0,
    eccUncorrectedVolatile: 0,
    remappedCorrectable: 0,
    remappedUncorrectable: 0,
    remappedPending: false,
    remappedFailure: false,
    ...over,
  };
}

const xid = (code: number, minutesAgo = 1): XidEvent => ({
  code,
  time: NOW - minutesAgo * 60_000,
  message: `NVRM: Xid (PCI:0000:00:09): ${code}, pid=1234, name=python3, details`,
});

describe("GPU health", () => {
  const cases: { name: string; over?: Partial<GpuReading>; rate?: number | null; xids?: XidEvent[]; state: HealthState; reason?: RegExp }[] = [
    { name: "the idle capture is healthy", state: "healthy" },
    { name: "volatile uncorrectable ECC fails", over: { eccUncorrectedVolatile: 2 }, state: "failed", reason: /2 volatile uncorrectable ECC/ },
    { name: "a row-remap failure fails", over: { remappedFailure: true }, state: "failed", reason: /row remapping failed/ },
    { name: "a critical Xid fails", xids: [xid(79)], state: "failed", reason: /^Xid 79 at .*: details$/ },
    { name: "[GPU requires reset] fails", over: { problems: ["requires-reset"] }, state: "failed", reason: /requires reset/ },
    { name: "[GPU is lost] fails", over: { problems: ["lost"] }, state: "failed", reason: /GPU is lost/ },
    { name: "at the shutdown temperature fails", over: { temperatureC: 95 }, state: "failed", reason: /shutdown temperature/ },
    { name: "a pending row remap degrades", over: { remappedPending: true }, state: "degraded", reason: /row remap pending/ },
    { name: "a pending page retirement degrades", over: { retiredPending: true }, state: "degraded", reason: /page retirement pending/ },
    { name: "a fast rise of corrected ECC degrades", rate: 250, state: "degraded", reason: /rising at 250\/h \(threshold 100\/h\)/ },
    { name: "a slow rise of corrected ECC does not", rate: 40, state: "healthy" },
    { name: "software thermal slowdown degrades", over: { clockEventReasons: ["sw_thermal_slowdown"] }, state: "degraded", reason: /thermal throttling \(sw_thermal_slowdown\)/ },
    { name: "hardware thermal slowdown degrades", over: { clockEventReasons: ["hw_slowdown", "hw_thermal_slowdown"] }, state: "degraded", reason: /thermal throttling \(hw_thermal_slowdown\)/ },
    { name: "power-brake throttling degrades", over: { clockEventReasons: ["hw_slowdown", "hw_power_brake_slowdown"] }, state: "degraded", reason: /power-brake/ },
    { name: "hardware slowdown of another cause degrades", over: { clockEventReasons: ["hw_slowdown"] }, state: "degraded", reason: /hardware slowdown/ },
    { name: "a software power cap under load is normal", over: { clockEventReasons: ["sw_power_cap"] }, state: "healthy" },
    { name: "within the margin of slowdown degrades", over: { temperatureC: 84 }, state: "degraded", reason: /84 °C within 5 °C of the slowdown temperature \(89 °C\)/ },
    { name: "just below the margin does not", over: { temperatureC: 83 }, state: "healthy" },
    { name: "no thresholds known, no temperature verdict", over: { temperatureC: 120, temperatureSlowdownC: null, temperatureShutdownC: null }, state: "healthy" },
    { name: "a warning Xid degrades", xids: [xid(63)], state: "degraded", reason: /^Xid 63/ },
    { name: "an application Xid is no hardware finding", xids: [xid(13), xid(31)], state: "healthy" },
    { name: "unknown values are no finding", over: { ...emptyReading("GPU-x"), index: 0 }, state: "healthy" },
  ];
  for (const c of cases) {
    test(c.name, () => {
      const h = gpuHealth({ reading: reading(c.over), correctedEccPerHour: c.rate ?? null, xids: c.xids ?? [] }, T);
      assert.equal(h.state, c.state, JSON.stringify(h));
      if (c.reason) assert.ok(h.reasons.some((r) => c.reason?.test(r)), JSON.stringify(h.reasons));
      if (c.state === "healthy") assert.deepEqual(h.reasons, []);
    });
  }

  test("failures come first and degradations stay listed", () => {
    const h = gpuHealth({ reading: reading({ remappedPending: true, remappedFailure: true }), correctedEccPerHour: null, xids: [] }, T);
    assert.equal(h.state, "failed");
    assert.deepEqual(h.reasons, ["row remapping failed", "row remap pending (applies at the next GPU reset)"]);
  });

  test("thresholds come from config", () => {
    const strict = HealthThresholds.parse({ temperatureMarginC: 10, correctedEccPerHour: 10, criticalXids: [13] });
    assert.equal(gpuHealth({ reading: reading({ temperatureC: 80 }), correctedEccPerHour: null, xids: [] }, strict).state, "degraded");
    assert.equal(gpuHealth({ reading: reading(), correctedEccPerHour: 20, xids: [] }, strict).state, "degraded");
    assert.equal(gpuHealth({ reading: reading(), correctedEccPerHour: null, xids: [xid(13)] }, strict).state, "failed");
    assert.equal(gpuHealth({ reading: reading(), correctedEccPerHour: null, xids: [xid(79)] }, strict).state, "healthy");
  });
});

describe("corrected ECC rate", () => {
  test("growth per hour, over at least ten minutes", () => {
    assert.equal(ratePerHour([{ time: NOW - 3_600_000, count: 0 }, { time: NOW, count: 120 }], NOW), 120);
    // A burst of 50 within a minute counts as 50 per ten minutes.
    assert.equal(ratePerHour([{ time: NOW - 60_000, count: 0 }, { time: NOW, count: 50 }], NOW), 300);
    assert.equal(ratePerHour([{ time: NOW, count: 5 }], NOW), null);
  });

  test("a counter reset starts the measurement over", () => {
    const r = ratePerHour(
      [
        { time: NOW - 50 * 60_000, count: 900 },
        { time: NOW - 40 * 60_000, count: 0 },
        { time: NOW, count: 20 },
      ],
      NOW,
    );
    assert.equal(r, 30);
  });

  test("samples older than the window are ignored", () => {
    assert.equal(ratePerHour([{ time: NOW - 2 * 3_600_000, count: 0 }, { time: NOW - 30 * 60_000, count: 1000 }, { time: NOW, count: 1000 }], NOW), 0);
  });

  test("the history covers the window at any poll rate, within its bounds", () => {
    const h = new CountHistory(3_600_000, 60, 2);
    for (let s = 0; s <= 3600; s++) h.add("gpu", { time: NOW - 3_600_000 + s * 1000, count: s });
    assert.ok(Math.abs((h.rate("gpu", NOW) ?? 0) - 3600) < 100, String(h.rate("gpu", NOW)));
    h.add("b", { time: NOW, count: 0 });
    h.add("c", { time: NOW, count: 0 });
    assert.equal(h.rate("c", NOW), null, "no more keys than allowed");
    h.retain(new Set(["b"]));
    assert.equal(h.rate("gpu", NOW), null);
  });
});

function gpu(index: number, state: HealthState, reasons: string[] = []): GpuTelemetry {
  return {
    index,
    uuid: `GPU-${index}`,
    name: "NVIDIA H100 80GB HBM3",
    memoryTotalMiB: 81559,
    memoryUsedMiB: 0,
    utilizationPct: 0,
    temperatureC: 41,
    powerW: 69,
    powerLimitW: 700,
    eccUncorrectedVolatile: 0,
    health: { state, reasons },
  };
}

describe("node health", () => {
  test("every GPU unknown makes the node unknown, with each GPU's reason", () => {
    const h = nodeHealth({ ok: true, gpus: [gpu(0, "unknown", ["nvidia-smi timed out"]), gpu(1, "unknown", ["nvidia-smi timed out"])] });
    assert.equal(h.state, "unknown");
    assert.equal(h.reasons.length, 2);
    assert.match(h.reasons[0] ?? "", /GPU 0 \(GPU-0\) unknown: nvidia-smi timed out/);
  });

  test("node-wide GPU problems and BMC findings degrade a node whose GPUs are fine", () => {
    assert.deepEqual(nodeHealth({ ok: true, gpus: [gpu(0, "healthy")] }, { gpuProblems: ["the driver has 4 GPUs attached, nvidia-smi reports 1"] }), {
      state: "degraded",
      reasons: ["the driver has 4 GPUs attached, nvidia-smi reports 1"],
    });
    assert.deepEqual(nodeHealth({ ok: true, gpus: [gpu(0, "healthy")] }, { bmc: ["PSU2 Status Failure detected (critical state)"] }), {
      state: "degraded",
      reasons: ["BMC: PSU2 Status Failure detected (critical state)"],
    });
  });

  test("a failed GPU degrades the node, never fails it", () => {
    assert.equal(nodeHealth({ ok: true, gpus: [gpu(0, "failed", ["row remapping failed"]), gpu(1, "healthy")] }).state, "degraded");
  });
});

describe("BMC findings", () => {
  const base: BmcStatus = { available: true, time: NOW, powerOn: true, sensors: [], selCount: 0, selEvents: [] };
  const sensor = (name: string, state: "nominal" | "warning" | "critical", status: string, value: number | null, unit: string | null, text = "") => ({
    name,
    id: "01h",
    kind: "other" as const,
    entity: "",
    value,
    unit,
    status,
    state,
    text,
  });

  test("critical sensors and recent critical events are findings; warnings, old and cleared events are not", () => {
    const f = bmcFindings(
      {
        ...base,
        sensors: [
          sensor("CPU Temp", "critical", "ucr", 91, "degrees C"),
          sensor("12V", "warning", "lnc", 11.1, "Volts"),
          sensor("PSU2 Status", "critical", "ok", null, null, "Failure detected"),
        ],
        selEvents: [
          { id: 9, time: NOW - 60_000, sensor: "Memory DIMM ECC", event: "Uncorrectable ECC", asserted: true, severity: "critical" },
          { id: 8, time: NOW - 60_000, sensor: "Memory DIMM ECC", event: "Correctable ECC", asserted: true, severity: "warning" },
          { id: 3, time: NOW - 2 * 86_400_000, sensor: "Power Supply PSU1 Status", event: "Failure detected", asserted: true, severity: "critical" },
          { id: 4, time: null, sensor: "Fan FAN2", event: "Lower Critical going low", asserted: true, severity: "critical" },
        ],
      },
      T,
      NOW,
    );
    assert.deepEqual(f, [
      "CPU Temp 91 degrees C (ucr)",
      "PSU2 Status Failure detected (critical state)",
      `event log #9 at ${new Date(NOW - 60_000).toISOString()}: Memory DIMM ECC: Uncorrectable ECC`,
    ]);
  });

  test("a BMC that cannot be read is no finding", () => {
    assert.deepEqual(bmcFindings({ ...base, available: false, reason: "no local IPMI device" }, T, NOW), []);
    assert.deepEqual(bmcFindings(undefined, T, NOW), []);
  });
});

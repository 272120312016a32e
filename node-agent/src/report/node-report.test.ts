import assert from "node:assert/strict";
import { describe, test } from "node:test";
import { NodeReport, type Backend, type GpuTelemetry, type Health } from "@enclave/contracts";
import { nodeHealth } from "./node-health.js";
import { buildNodeReport } from "./node-report.js";

function gpu(index: number, health: Health = { state: "healthy", reasons: [] }): GpuTelemetry {
  return {
    index,
    uuid: `GPU-0000000${index}-0000-0000-0000-000000000000`,
    name: "NVIDIA H100 80GB HBM3",
    memoryTotalMiB: 81559,
    memoryUsedMiB: 512,
    utilizationPct: 0,
    temperatureC: 30,
    powerW: 70,
    powerLimitW: 700,
    eccUncorrectedVolatile: 0,
    health,
  };
}

const ID = { nodeId: "gpu-1", region: "eu-central-1", jurisdiction: "EU", agentVersion: "0.1.0" };

describe("node health", () => {
  test("healthy when every GPU is, and with no GPUs at all", () => {
    assert.deepEqual(nodeHealth({ ok: true, gpus: [gpu(0), gpu(1)] }), { state: "healthy", reasons: [] });
    assert.deepEqual(nodeHealth({ ok: true, gpus: [] }), { state: "healthy", reasons: [] });
  });

  test("one failed, unknown or degraded GPU degrades the node, naming each GPU and its reasons", () => {
    const h = nodeHealth({
      ok: true,
      gpus: [
        gpu(0),
        gpu(1, { state: "failed", reasons: ["volatile uncorrectable ECC error"] }),
        gpu(2, { state: "unknown", reasons: [] }),
        gpu(3, { state: "degraded", reasons: ["thermal throttling", "pending row remap"] }),
      ],
    });
    assert.equal(h.state, "degraded");
    assert.equal(h.reasons.length, 3);
    assert.match(h.reasons[0] ?? "", /^GPU 1 \(GPU-00000001-[^)]+\) failed: volatile uncorrectable ECC error$/);
    assert.match(h.reasons[1] ?? "", /^GPU 2 .* unknown$/);
    assert.match(h.reasons[2] ?? "", /GPU 3 .* degraded: thermal throttling; pending row remap/);
  });

  test("telemetry that cannot be read makes the node unknown, with the reason", () => {
    assert.deepEqual(nodeHealth({ ok: false, error: "nvidia-smi: not found" }), {
      state: "unknown",
      reasons: ["GPU telemetry unavailable: nvidia-smi: not found"],
    });
  });
});

describe("node report", () => {
  const backend: Backend = {
    id: "gpu-1/chat/eu-central-1/0/g1",
    nodeId: "gpu-1",
    engine: "vllm",
    model: "llama-3.1-8b",
    baseUrl: "http://127.0.0.1:40000",
    state: "ready",
    load: { running: 1, waiting: 0, kvCacheUsage: 0.1 },
    replica: { deployment: "chat", region: "eu-central-1", replica: 0, generation: 1 },
    gpus: [gpu(0).uuid],
    restarts: 0,
  };

  test("carries identity, GPUs and backends, and matches the schema", () => {
    const r = buildNodeReport(ID, 1_700_000_000_123.7, { ok: true, gpus: [gpu(0)] }, [backend]);
    assert.equal(r.nodeId, "gpu-1");
    assert.equal(r.region, "eu-central-1");
    assert.equal(r.jurisdiction, "EU");
    assert.equal(r.time, 1_700_000_000_123);
    assert.equal(r.gpus.length, 1);
    assert.deepEqual(r.backends, [backend]);
    assert.deepEqual(NodeReport.parse(r), r);
  });

  test("a GPU source that failed gives no GPUs and an unknown node, still a valid report", () => {
    const r = buildNodeReport(ID, 1, { ok: false, error: "timed out" }, [backend]);
    assert.deepEqual(r.gpus, []);
    assert.equal(r.health.state, "unknown");
    assert.equal(r.backends.length, 1, "backends are reported whatever the GPUs say");
    NodeReport.parse(r);
  });
});

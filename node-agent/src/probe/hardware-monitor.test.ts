import assert from "node:assert/strict";
import { describe, test, type TestContext } from "node:test";
import { AgentConfig, NodeReport } from "@enclave/contracts";
import { createLogger, waitFor } from "@enclave/runtime";
import { Registry } from "prom-client";
import { createGpuSource } from "../gpu/create-gpu-source.js";
import { AgentMetrics } from "../metrics/agent-metrics.js";
import { buildNodeReport } from "../report/node-report.js";
import { FakeNvidiaSmi, fixture, replicateCsv, retargetXml } from "../test-support/fake-nvidia-smi.js";
import { bmcPollDelayMs, HardwareMonitor } from "./hardware-monitor.js";

const H100_IDLE = fixture("nvidia-smi", "query-gpu", "h100-80gb-hbm3_590.48.01_idle.csv");
const XML = retargetXml(fixture("nvidia-smi", "xml", "rtx-pro-6000-blackwell-maxq_590.44.01.xml"), {
  uuid: "GPU-00000000-0000-0000-0000-000000000000",
  pciBusId: "00000000:18:00.0",
});

function setup(t: TestContext, nvidiaSmi: Record<string, unknown> = {}) {
  const fake = new FakeNvidiaSmi({ csv: replicateCsv(H100_IDLE, 2), xml: XML });
  t.after(() => fake.remove());
  const config = AgentConfig.parse({
    nodeId: "gpu-1",
    region: "eu-central-1",
    jurisdiction: "EU",
    scheduler: { url: "http://127.0.0.1:1", token: { env: "UNUSED" } },
    gpus: { source: "nvidia-smi", nvidiaSmi: { path: fake.path, intervalMs: 200, timeoutMs: 500, ...nvidiaSmi }, kernelLog: null },
    engines: { driver: "process" },
  });
  const monitor = new HardwareMonitor({ config, gpu: createGpuSource(config), hostIntervalMs: 60_000 });
  t.after(() => monitor.close());
  const registry = new Registry();
  new AgentMetrics(registry, { node: "gpu-1", region: "eu-central-1", hostname: "gpu-host-1" }, {
    backends: () => [],
    gpus: () => {
      const s = monitor.gpuSample();
      return s.ok ? s.gpus : [];
    },
    bmc: () => monitor.bmcStatus(),
    nodeHealth: () => monitor.health(),
  });
  return { fake, config, monitor, registry };
}

describe("hardware monitor with nvidia-smi", () => {
  test("one refresh gives a valid report with GPUs, host statistics and no BMC", async (t) => {
    const { monitor } = setup(t);
    await monitor.refreshAll();
    const report = buildNodeReport({ nodeId: "gpu-1", region: "eu-central-1", jurisdiction: "EU", agentVersion: "0" }, Date.now(), monitor.gpuSample(), [], monitor.hardware());
    assert.deepEqual(NodeReport.parse(report), report);
    assert.equal(report.gpus.length, 2);
    assert.deepEqual(report.health, { state: "healthy", reasons: [] });
    assert.equal(report.bmc, undefined);
    assert.ok(report.host && report.host.memoryTotalBytes !== null && report.host.memoryTotalBytes > 0);
    assert.ok(report.host.cpuCount !== null && report.host.cpuCount > 0);
  });

  test("/metrics: DCGM exporter names and labels, health states", async (t) => {
    const { monitor, registry } = setup(t);
    await monitor.refreshGpus();
    const text = await registry.metrics();
    const labels = 'gpu="1",UUID="GPU-00000000-0000-0000-0000-000000000001",device="nvidia1",modelName="NVIDIA H100 80GB HBM3",Hostname="gpu-host-1",region="eu-central-1",node="gpu-1"';
    for (const line of [
      `DCGM_FI_DEV_GPU_TEMP{${labels}} 41`,
      `DCGM_FI_DEV_MEMORY_TEMP{${labels}} 48`,
      `DCGM_FI_DEV_POWER_USAGE{${labels}} 69.85`,
      `DCGM_FI_DEV_FB_USED{${labels}} 0`,
      `DCGM_FI_DEV_FB_FREE{${labels}} 81081`,
      `DCGM_FI_DEV_GPU_UTIL{${labels}} 0`,
      `DCGM_FI_DEV_SM_CLOCK{${labels}} 345`,
      `DCGM_FI_DEV_MEM_CLOCK{${labels}} 2619`,
      `DCGM_FI_DEV_ECC_SBE_VOL_TOTAL{${labels}} 0`,
      `DCGM_FI_DEV_ECC_DBE_VOL_TOTAL{${labels}} 0`,
      `DCGM_FI_DEV_ECC_SBE_AGG_TOTAL{${labels}} 0`,
      `DCGM_FI_DEV_ECC_DBE_AGG_TOTAL{${labels}} 0`,
      `DCGM_FI_DEV_CORRECTABLE_REMAPPED_ROWS{${labels}} 0`,
      `DCGM_FI_DEV_UNCORRECTABLE_REMAPPED_ROWS{${labels}} 0`,
      `DCGM_FI_DEV_ROW_REMAP_FAILURE{${labels}} 0`,
      `DCGM_FI_DEV_XID_ERRORS{${labels}} 0`,
      `DCGM_FI_DEV_ROW_REMAP_PENDING{${labels}} 0`,
      `DCGM_FI_DEV_POWER_MGMT_LIMIT{${labels}} 700`,
      `DCGM_FI_DEV_CLOCKS_EVENT_REASONS{${labels}} 1`,
      `DCGM_FI_PROF_GR_ENGINE_ACTIVE{${labels}} 0`,
      'enclave_gpu_health_state{gpu="1",UUID="GPU-00000000-0000-0000-0000-000000000001",node="gpu-1",region="eu-central-1",state="healthy"} 1',
      'enclave_node_health_state{node="gpu-1",region="eu-central-1",state="healthy"} 1',
    ]) {
      assert.ok(text.includes(`\n${line}\n`), `missing: ${line}`);
    }
    assert.match(text, /# TYPE DCGM_FI_DEV_ECC_DBE_VOL_TOTAL counter/);
    assert.doesNotMatch(text, /DCGM_FI_DEV_RETIRED_SBE\{/, "Hopper reports no retired pages: no series rather than a made-up 0");
  });

  test("polls on its interval; a hung nvidia-smi makes the node unknown and the polling goes on until it answers again", async (t) => {
    const { fake, monitor } = setup(t);
    await monitor.refreshGpus();
    monitor.start();
    await waitFor(() => fake.calls().filter((c) => c.startsWith("--query-gpu")).length >= 3, { timeoutMs: 5000, what: "polls" });
    fake.setMode("hang");
    await waitFor(() => monitor.health().state === "unknown", { timeoutMs: 5000, what: "unknown" });
    assert.match(monitor.health().reasons[0] ?? "", /did not finish within 500 ms/);
    fake.setMode("normal");
    await waitFor(() => monitor.health().state === "healthy", { timeoutMs: 5000, what: "healthy again" });
  });
});

describe("hardware monitor with an unreachable BMC", () => {
  test("no local IPMI device: reported unavailable, logged once, asked ever less often", async (t) => {
    const lines: string[] = [];
    // A silent logger whose warnings the test counts.
    const log = Object.assign(createLogger("monitor-test", "silent"), { warn: (...args: unknown[]) => void lines.push(String(args[1] ?? args[0])) });
    const config = AgentConfig.parse({
      nodeId: "gpu-1",
      region: "eu-central-1",
      jurisdiction: "EU",
      scheduler: { url: "http://127.0.0.1:1", token: { env: "UNUSED" } },
      gpus: { source: "sim", count: 1 },
      bmc: { interface: "open", ipmitoolPath: "/nonexistent/ipmitool" },
      engines: { driver: "process" },
    });
    const monitor = new HardwareMonitor({ config, gpu: createGpuSource(config), log, bmcLocalDevices: ["/nonexistent/ipmi0"] });
    t.after(() => monitor.close());
    await monitor.refreshAll();
    await monitor.refreshBmc();
    await monitor.refreshBmc();
    assert.equal(monitor.bmcStatus()?.available, false);
    assert.match(monitor.bmcStatus()?.reason ?? "", /no local IPMI device/);
    assert.equal(lines.filter((l) => l.includes("BMC unavailable")).length, 1);
    assert.deepEqual(monitor.health(), { state: "healthy", reasons: [] }, "an unreadable BMC says nothing about the hardware");
  });

  test("the poll delay doubles per failure, up to 10 minutes", () => {
    assert.equal(bmcPollDelayMs(30_000, 0), 30_000);
    assert.equal(bmcPollDelayMs(30_000, 1), 60_000);
    assert.equal(bmcPollDelayMs(30_000, 3), 240_000);
    assert.equal(bmcPollDelayMs(30_000, 50), 600_000);
    assert.equal(bmcPollDelayMs(900_000, 5), 900_000, "an interval above the cap stays as configured");
  });
});

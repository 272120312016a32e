import assert from "node:assert/strict";
import { chmodSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { describe, test, type TestContext } from "node:test";
import { AgentConfig, BmcConfig } from "@enclave/contracts";
import { Registry } from "prom-client";
import { createGpuSource } from "../gpu/create-gpu-source.js";
import { AgentMetrics } from "../metrics/agent-metrics.js";
import { HardwareMonitor } from "../probe/hardware-monitor.js";
import { BmcSim, SIM_PASSWORD, SIM_USER } from "../test-support/bmc-sim.js";
import { BmcClient } from "./bmc-client.js";

/** Real ipmitool against OpenIPMI's ipmi_sim on loopback (fixtures/bmc-sim). */
async function sim(t: TestContext): Promise<BmcSim> {
  const s = await BmcSim.start();
  t.after(() => s.stop());
  return s;
}

function lanplus(port: number, over: Partial<Record<string, unknown>> = {}): BmcConfig {
  return BmcConfig.parse({ interface: "lanplus", host: "127.0.0.1", port, username: SIM_USER, password: { env: "UNUSED_IN_TESTS" }, cipherSuite: 3, timeoutMs: 10_000, ...over });
}

function agentConfig(port: number): AgentConfig {
  return AgentConfig.parse({
    nodeId: "gpu-1",
    region: "eu-central-1",
    jurisdiction: "EU",
    scheduler: { url: "http://127.0.0.1:1", token: { env: "UNUSED" } },
    gpus: { source: "sim", count: 1 },
    bmc: { interface: "lanplus", host: "127.0.0.1", port, username: SIM_USER, password: { env: "UNUSED" }, cipherSuite: 3 },
    engines: { driver: "process" },
  });
}

/** The value of the series of `name` whose labels include `labels`. */
async function metric(registry: Registry, name: string, labels: Record<string, string> = {}): Promise<number | undefined> {
  const m = (await registry.getMetricsAsJSON()).find((x) => x.name === name);
  const v = m?.values.find((x) => Object.entries(labels).every(([k, want]) => String((x.labels as Record<string, unknown>)[k]) === want));
  return v?.value;
}

describe("BMC over IPMI (ipmi_sim)", () => {
  test("reads the sensors, chassis power and an empty event log", async (t) => {
    const s = await sim(t);
    const status = await new BmcClient({ config: lanplus(s.port), password: SIM_PASSWORD }).read();
    assert.equal(status.available, true, status.reason);
    assert.equal(status.sensors.length, 11);
    const cpu = status.sensors.find((x) => x.name === "CPU Temp");
    assert.deepEqual([cpu?.value, cpu?.unit, cpu?.state], [52, "degrees C", "nominal"]);
    assert.equal(status.sensors.find((x) => x.name === "FAN3")?.state, "unavailable");
    assert.equal(status.powerOn, true);
    assert.equal(status.selCount, 0);
    assert.deepEqual(status.selEvents, []);
    s.setPower(false);
    assert.equal((await new BmcClient({ config: lanplus(s.port), password: SIM_PASSWORD }).read()).powerOn, false);
  });

  test("a temperature over its threshold and a failed PSU degrade the node and show in the metrics", async (t) => {
    const s = await sim(t);
    const config = agentConfig(s.port);
    const monitor = new HardwareMonitor({ config, gpu: createGpuSource(config), bmcPassword: SIM_PASSWORD });
    t.after(() => monitor.close());
    const registry = new Registry();
    new AgentMetrics(registry, { node: "gpu-1", region: "eu-central-1", hostname: "host" }, {
      backends: () => [],
      gpus: () => {
        const g = monitor.gpuSample();
        return g.ok ? g.gpus : [];
      },
      bmc: () => monitor.bmcStatus(),
      nodeHealth: () => monitor.health(),
    });

    await monitor.refreshAll();
    assert.deepEqual(monitor.health(), { state: "healthy", reasons: [] });
    assert.equal(await metric(registry, "ipmi_temperature_state", { name: "CPU Temp" }), 0);
    assert.equal(await metric(registry, "ipmi_temperature_celsius", { name: "CPU Temp", id: "3" }), 52);
    assert.equal(await metric(registry, "ipmi_sensor_state", { name: "PSU2 Status", type: "Power Supply" }), 0);
    assert.equal(await metric(registry, "ipmi_fan_speed_rpm", { name: "FAN3" }), undefined, "a sensor without a reading is left out");
    assert.equal(await metric(registry, "enclave_node_health_state", { state: "healthy" }), 1);

    await s.console("sensor_set_value 0x20 0 3 91 1", "sensor_set_bit_clr_rest 0x20 0 9 1 1");
    await monitor.refreshBmc();
    const h = monitor.health();
    assert.equal(h.state, "degraded");
    assert.ok(h.reasons.includes("BMC: CPU Temp 91 degrees C (ucr)"), JSON.stringify(h.reasons));
    assert.ok(h.reasons.includes("BMC: PSU2 Status Failure detected (critical state)"), JSON.stringify(h.reasons));
    assert.equal(await metric(registry, "ipmi_temperature_state", { name: "CPU Temp" }), 2);
    assert.equal(await metric(registry, "ipmi_temperature_celsius", { name: "CPU Temp" }), 91);
    assert.equal(await metric(registry, "ipmi_sensor_state", { name: "PSU2 Status" }), 2);
    assert.equal(await metric(registry, "enclave_node_health_state", { state: "degraded" }), 1);
    assert.equal(await metric(registry, "enclave_node_health_state", { state: "healthy" }), 0);
  });

  test("an ECC event added to the event log appears in the report and the count", async (t) => {
    const s = await sim(t);
    const client = new BmcClient({ config: lanplus(s.port), password: SIM_PASSWORD });
    const before = await client.read();
    await s.console("sel_add 0x20 0x02 0 0 0 0 0x20 0x00 0x04 0x0c 0x0a 0x6f 0x01 0xff 0xff");
    const after = await client.read();
    assert.equal(after.selCount, (before.selCount ?? 0) + 1);
    const last = after.selEvents[after.selEvents.length - 1];
    assert.equal(last?.sensor, "Memory DIMM ECC");
    assert.equal(last?.event, "Uncorrectable ECC");
    assert.equal(last?.severity, "critical");
    assert.ok(last?.time !== null && Math.abs((last?.time ?? 0) - Date.now()) < 5 * 60_000, "dated by the BMC clock the simulator set");
  });

  test("wrong credentials and a port nobody answers: unavailable with ipmitool's words, in bounded time", async (t) => {
    const s = await sim(t);
    const wrong = await new BmcClient({ config: lanplus(s.port), password: "wrong" }).read();
    assert.equal(wrong.available, false);
    assert.match(wrong.reason ?? "", /Unable to establish IPMI v2 \/ RMCP\+ session/);
    const started = Date.now();
    const dead = await new BmcClient({ config: lanplus(s.port + 77, { retries: 1, retransmitTimeoutS: 1 }), password: SIM_PASSWORD }).read();
    assert.equal(dead.available, false);
    assert.ok(Date.now() - started < 8000);
  });
});

describe("BMC client without a simulator", () => {
  test("no local IPMI device: unavailable, without running ipmitool", async () => {
    const status = await new BmcClient({ config: BmcConfig.parse({ interface: "open", ipmitoolPath: "/nonexistent/ipmitool" }), localDevices: ["/nonexistent/ipmi0"] }).read();
    assert.equal(status.available, false);
    assert.match(status.reason ?? "", /no local IPMI device/);
  });

  test("a hung ipmitool is killed at its deadline; calls never overlap", async (t) => {
    const dir = mkdtempSync(join(tmpdir(), "enclave-ipmitool-"));
    t.after(() => rmSync(dir, { recursive: true, force: true }));
    const tool = join(dir, "ipmitool");
    const log = join(dir, "log");
    // Records each call's start and end; `sdr elist` answers after a short pause, `chassis` hangs.
    writeFileSync(
      tool,
      `#!/bin/sh\necho "start $*" >> "${log}"\ncase "$*" in *chassis*) exec sleep 600 ;; esac\nsleep 0.2\necho "CPU Temp         | 03h | ok  |  3.1 | 52 degrees C"\necho "end $*" >> "${log}"\n`,
    );
    chmodSync(tool, 0o755);
    const client = new BmcClient({ config: BmcConfig.parse({ interface: "open", ipmitoolPath: tool, timeoutMs: 500 }), localDevices: [tool] });
    const [a, b] = await Promise.all([client.read(), client.read()]);
    assert.equal(a.available, true);
    assert.equal(a.powerOn, null, "the hung chassis call was given up");
    assert.equal(b.sensors[0]?.value, 52);
    const lines = readFileSync(log, "utf8").trim().split("\n");
    // A call starts only after the one before it ended (or was killed, leaving no end line).
    let open = 0;
    for (const l of lines) {
      if (l.startsWith("start")) {
        assert.equal(open, 0, lines.join("\n"));
        open = l.includes("chassis") ? 0 : 1;
      } else open = 0;
    }
    assert.equal(lines.filter((l) => l.startsWith("start") && l.includes("sdr elist")).length, 2);
  });
});

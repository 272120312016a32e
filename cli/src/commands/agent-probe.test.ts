import assert from "node:assert/strict";
import { execFile } from "node:child_process";
import { mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { dirname, join, resolve } from "node:path";
import { test, type TestContext } from "node:test";
import { fileURLToPath } from "node:url";
import { NodeReport } from "@enclave/contracts";
import { BmcSim, SIM_PASSWORD, SIM_USER } from "@enclave/node-agent/test-support/bmc-sim";
import { FakeNvidiaSmi, fixture, retargetXml } from "@enclave/node-agent/test-support/fake-nvidia-smi";

const CLI = resolve(dirname(fileURLToPath(import.meta.url)), "../main.js");

function probe(args: string[], env: NodeJS.ProcessEnv = {}): Promise<{ code: number; stdout: string; stderr: string }> {
  return new Promise((done) => {
    execFile(process.execPath, [CLI, "agent", "probe", ...args], { env: { ...process.env, ...env }, timeout: 60_000 }, (err, stdout, stderr) => {
      const code = err ? (typeof err.code === "number" ? err.code : 1) : 0;
      done({ code, stdout, stderr });
    });
  });
}

function tempDir(t: TestContext): string {
  const dir = mkdtempSync(join(tmpdir(), "enclave-probe-"));
  t.after(() => rmSync(dir, { recursive: true, force: true }));
  return dir;
}

test("`enclave agent probe` reads the GPUs and the BMC once and prints the node report", async (t) => {
  const fake = new FakeNvidiaSmi({
    csv: fixture("nvidia-smi", "query-gpu", "h100-80gb-hbm3_590.48.01_load.csv"),
    xml: retargetXml(fixture("nvidia-smi", "xml", "rtx-pro-6000-blackwell-maxq_590.44.01.xml"), {
      uuid: "GPU-00000000-0000-0000-0000-000000000000",
      pciBusId: "00000000:00:09.0",
    }),
  });
  t.after(() => fake.remove());
  const sim = await BmcSim.start();
  t.after(() => sim.stop());
  const dir = tempDir(t);
  const config = join(dir, "agent.yaml");
  writeFileSync(
    config,
    [
      "nodeId: gpu-7",
      "region: eu-central-1",
      "jurisdiction: EU",
      "scheduler: { url: 'http://127.0.0.1:1', token: { env: NOT_NEEDED_BY_PROBE } }",
      "gpus: { source: sim, kernelLog: null }",
      `bmc: { interface: lanplus, host: 127.0.0.1, port: ${sim.port}, username: ${SIM_USER}, password: { env: PROBE_BMC_PASSWORD } }`,
      "engines: { driver: process }",
      "",
    ].join("\n"),
  );
  const r = await probe(["--config", config, "--nvidia-smi", fake.path], { PROBE_BMC_PASSWORD: SIM_PASSWORD });
  const report = NodeReport.parse(JSON.parse(r.stdout));
  assert.equal(report.nodeId, "gpu-7");
  assert.equal(report.gpus.length, 1);
  assert.equal(report.gpus[0]?.name, "NVIDIA H100 80GB HBM3");
  assert.equal(report.gpus[0]?.utilizationPct, 100);
  assert.equal(report.bmc?.available, true, report.bmc?.reason);
  assert.equal(report.bmc?.sensors.find((s) => s.name === "Inlet Temp")?.value, 24);
  assert.deepEqual(report.health, { state: "healthy", reasons: [] });
  assert.equal(r.code, 0);
  assert.ok(!r.stdout.includes(SIM_PASSWORD) && !r.stderr.includes(SIM_PASSWORD), "the BMC password appears nowhere");
});

test("`enclave agent probe` on a node without nvidia-smi: unknown with the reason, exit 1, never a crash", async () => {
  const r = await probe(["--nvidia-smi", "/nonexistent/nvidia-smi"]);
  assert.equal(r.code, 1);
  const report = NodeReport.parse(JSON.parse(r.stdout));
  assert.equal(report.health.state, "unknown");
  assert.match(report.health.reasons[0] ?? "", /nvidia-smi: not found/);
  assert.equal(report.bmc?.available, false, "no /dev/ipmi0 here");
});

test("`enclave agent probe` with a bad config: exit 2 and the config error", async (t) => {
  const dir = tempDir(t);
  const config = join(dir, "agent.yaml");
  writeFileSync(config, "nodeId: x\nregion: eu-central-1\njurisdiction: EU\nscheduler: { url: 'http://x:1', token: { env: T } }\ngpus: { source: nvidia-smi }\nbmc: { interface: lanplus }\nengines: { driver: process }\n");
  const r = await probe(["--config", config]);
  assert.equal(r.code, 2);
  assert.match(r.stderr, /bmc\.host: lanplus needs the BMC's host/);
});

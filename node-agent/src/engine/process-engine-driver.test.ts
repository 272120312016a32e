import assert from "node:assert/strict";
import { spawn } from "node:child_process";
import { createServer, type Server } from "node:net";
import { mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { after, before, describe, test } from "node:test";
import { waitFor } from "@enclave/runtime";
import { childProcesses, isAlive } from "../test-support/processes.js";
import type { EngineHandle, EngineSpec } from "./engine-driver.js";
import { ProcessEngineDriver } from "./process-engine-driver.js";

const SIM = { ttftMs: 1, itlMs: 1, maxConcurrent: 4, outputTokens: 4 };
const SPEC: EngineSpec = {
  backendId: "n1/chat/eu-central-1/0/g1",
  replica: { deployment: "chat", region: "eu-central-1", replica: 0, generation: 1 },
  model: "llama-3.1-8b",
  engine: "vllm",
  gpus: ["GPU-a", "GPU-b"],
  args: ["--tensor-parallel-size", "2"],
};

/** Fake engines for the failure paths the simulator does not have. */
const FAKES = {
  "dies-early.mjs": `process.stderr.write("fatal: CUDA driver not found\\n"); process.exit(3);`,
  "never-listens.mjs": `process.stderr.write("loading weights...\\n"); setInterval(() => {}, 1000);`,
  "ignores-sigterm.mjs": `
    process.on("SIGTERM", () => process.stderr.write("ignoring SIGTERM\\n"));
    process.stdout.write(JSON.stringify({ event: "listening", url: "http://127.0.0.1:1", pid: process.pid }) + "\\n");
    setInterval(() => {}, 1000);`,
  // stderr first: pipe writes are synchronous, so it is all out before the listening line.
  "prints-env.mjs": `
    // Short lines: the log tail cuts long ones (engine-log-filter.ts).
    const { ENCLAVE_TEST_SECRET_TOKEN, CUDA_VISIBLE_DEVICES } = process.env;
    process.stderr.write(JSON.stringify({ env: { ENCLAVE_TEST_SECRET_TOKEN, CUDA_VISIBLE_DEVICES } }) + "\\n" + JSON.stringify({ argv: process.argv.slice(2) }) + "\\n");
    process.stdout.write("some banner\\n" + JSON.stringify({ event: "listening", url: "http://127.0.0.1:2/", pid: process.pid }) + "\\n");
    setInterval(() => {}, 1000);`,
};

function listen(port: number): Promise<Server> {
  return new Promise((resolve, reject) => {
    const s = createServer();
    s.once("error", reject);
    s.listen(port, "127.0.0.1", () => resolve(s));
  });
}

/** `n` consecutive ports free on 127.0.0.1 right now (outside the default engine range), as [first, last]. */
async function freeRun(n: number): Promise<[number, number]> {
  for (let attempt = 0; attempt < 50; attempt++) {
    const first = 30000 + Math.floor(Math.random() * 20000);
    const held: Server[] = [];
    try {
      for (let i = 0; i < n; i++) held.push(await listen(first + i));
      return [first, first + n - 1];
    } catch {
      // taken: another start point
    } finally {
      await Promise.all(held.map((s) => new Promise((r) => s.close(r))));
    }
  }
  throw new Error(`no ${n} consecutive free ports found`);
}

describe("ProcessEngineDriver", () => {
  let dir: string;
  const handles: EngineHandle[] = [];
  before(() => {
    dir = mkdtempSync(join(tmpdir(), "enclave-fake-engines-"));
    for (const [name, text] of Object.entries(FAKES)) writeFileSync(join(dir, name), text);
  });
  after(async () => {
    await Promise.all(handles.map((h) => h.stop(100)));
    rmSync(dir, { recursive: true, force: true });
  });
  const driver = (over: { enginePath?: string; listenTimeoutMs?: number; portRange?: { from: number; to: number } } = {}) =>
    new ProcessEngineDriver({
      host: "127.0.0.1", sim: SIM, listenTimeoutMs: over.listenTimeoutMs ?? 10_000,
      ...(over.enginePath ? { enginePath: join(dir, over.enginePath) } : {}),
      ...(over.portRange ? { portRange: over.portRange } : {}),
    });
  const portOf = (h: EngineHandle) => Number(new URL(h.url).port);

  test("engines listen in the firewall's engine range (20000-20999) unless told otherwise", async () => {
    const h = await driver().start(SPEC);
    handles.push(h);
    assert.ok(portOf(h) >= 20000 && portOf(h) <= 20999, h.url);
    assert.equal((await fetch(`${h.url}/health`)).status, 200);
  });

  test("engine ports come from the configured range, skipping ports in use; a full range is a clear error", async () => {
    const [from, to] = await freeRun(3);
    const squatters = await Promise.all([listen(from), listen(to)]);
    try {
      const d = driver({ portRange: { from, to } });
      const h = await d.start(SPEC);
      handles.push(h);
      assert.equal(portOf(h), from + 1, "the one port of the range nobody holds");
      await assert.rejects(d.start(SPEC), new RegExp(`^Error: no free port in engines.process.portRange ${from}-${to} on 127.0.0.1$`));
      await h.stop(2000);
    } finally {
      await Promise.all(squatters.map((s) => new Promise((r) => s.close(r))));
    }
  });

  test("engines started at the same time get different ports of the range", async () => {
    const [from, to] = await freeRun(2);
    const d = driver({ portRange: { from, to } });
    const started = await Promise.all([d.start(SPEC), d.start({ ...SPEC, backendId: "n1/chat/eu-central-1/1/g1" })]);
    handles.push(...started);
    assert.deepEqual(started.map(portOf).sort(), [from, to]);
  });

  test("starts the engine simulator on a free port and stops it with SIGTERM", async () => {
    const h = await driver().start(SPEC);
    handles.push(h);
    assert.match(h.url, /^http:\/\/127\.0\.0\.1:\d+$/);
    assert.ok(h.pid && isAlive(h.pid));
    const res = await fetch(`${h.url}/health`);
    assert.equal(res.status, 200);
    const models = (await (await fetch(`${h.url}/v1/models`)).json()) as { data: { id: string }[] };
    assert.equal(models.data[0]?.id, "llama-3.1-8b");

    const exits: [number | null, string | null][] = [];
    h.onExit((code, signal) => exits.push([code, signal]));
    await h.stop(5000);
    assert.equal(isAlive(h.pid), false);
    assert.deepEqual(exits, [[0, null]], "the simulator exits cleanly on SIGTERM");
    // Registered after the fact, still told.
    const late = await new Promise<number | null>((resolve) => h.onExit((code) => resolve(code)));
    assert.equal(late, 0);
    await h.stop(5000); // twice is fine
  });

  test("reports a crash with the signal and the engine's last output", async () => {
    const h = await driver().start(SPEC);
    handles.push(h);
    const exit = new Promise<[number | null, string | null, string]>((resolve) => h.onExit((c, s, log) => resolve([c, s, log])));
    process.kill(h.pid as number, "SIGKILL");
    const [code, signal, log] = await exit;
    assert.equal(code, null);
    assert.equal(signal, "SIGKILL");
    assert.match(log, /listening/, "the simulator's stderr log is in the tail");
  });

  test("an engine that exits before listening is a rejected start, with its exit code and output", async () => {
    await assert.rejects(driver({ enginePath: "dies-early.mjs" }).start(SPEC), /exited with code 3 before listening; log: fatal: CUDA driver not found/);
  });

  test("an engine that never says it listens is killed after the timeout", async () => {
    // Long enough for the fake to have started and written its line even on a busy machine.
    const t0 = Date.now();
    await assert.rejects(driver({ enginePath: "never-listens.mjs", listenTimeoutMs: 1500 }).start(SPEC), /did not report listening within 1500 ms; log: loading weights/);
    assert.ok(Date.now() - t0 >= 1500);
    assert.deepEqual(childProcesses("never-listens"), [], "no process left behind");
  });

  test("stop escalates to SIGKILL after the grace period", async () => {
    const h = await driver({ enginePath: "ignores-sigterm.mjs" }).start(SPEC);
    handles.push(h);
    const exit = new Promise<string | null>((resolve) => h.onExit((_c, s) => resolve(s)));
    const t0 = Date.now();
    await h.stop(300);
    assert.ok(Date.now() - t0 >= 280, "waited for the grace period");
    assert.equal(await exit, "SIGKILL");
    assert.equal(isAlive(h.pid as number), false);
  });

  test("an engine does not outlive an agent killed with SIGKILL", async () => {
    // A separate agent-like process, so it can be killed without taking this test with it.
    const script = join(dir, "host.mjs");
    writeFileSync(
      script,
      `import { ProcessEngineDriver } from ${JSON.stringify(new URL("./process-engine-driver.js", import.meta.url).href)};
       const d = new ProcessEngineDriver({ host: "127.0.0.1", sim: ${JSON.stringify(SIM)}, listenTimeoutMs: 10000 });
       const h = await d.start(${JSON.stringify(SPEC)});
       process.stdout.write(h.pid + "\\n");
       setInterval(() => {}, 1000);`,
    );
    const host = spawn(process.execPath, [script], { stdio: ["ignore", "pipe", "inherit"] });
    try {
      let out = "";
      host.stdout.setEncoding("utf8").on("data", (s: string) => (out += s));
      const pid = await waitFor(() => Number(out.trim()) || undefined, { timeoutMs: 10_000, what: "the engine's pid" });
      assert.ok(isAlive(pid));
      host.kill("SIGKILL");
      await waitFor(() => !isAlive(pid), { timeoutMs: 10_000, what: "the orphaned engine to exit" });
    } finally {
      host.kill("SIGKILL");
    }
  });

  test("the engine gets none of the agent's secrets, its GPUs, and the simulator's options but not real-engine args", async () => {
    process.env["ENCLAVE_TEST_SECRET_TOKEN"] = "s3cr3t-value";
    try {
      const h = await driver({ enginePath: "prints-env.mjs" }).start(SPEC);
      handles.push(h);
      assert.equal(h.url, "http://127.0.0.1:2", "the URL from the listening line, trailing slash dropped");
      const exit = new Promise<string>((resolve) => h.onExit((_c, _s, log) => resolve(log)));
      await h.stop(100);
      const log = await exit;
      const line = (key: string) => {
        const l = log.split("\n").find((x) => x.startsWith(`{"${key}"`));
        assert.ok(l, log);
        return JSON.parse(l) as Record<string, unknown>;
      };
      const seen = { env: line("env")["env"] as Record<string, string>, argv: line("argv")["argv"] as string[] };
      assert.equal(seen.env["ENCLAVE_TEST_SECRET_TOKEN"], undefined);
      assert.equal(seen.env["CUDA_VISIBLE_DEVICES"], "GPU-a,GPU-b");
      assert.ok(seen.argv.includes("--exit-with-parent"));
      assert.deepEqual(seen.argv.slice(seen.argv.indexOf("--model"), seen.argv.indexOf("--model") + 2), ["--model", "llama-3.1-8b"]);
      assert.ok(!seen.argv.includes("--tensor-parallel-size"));
      assert.match(log, /some banner/, "stdout other than the listening line is kept too");
    } finally {
      delete process.env["ENCLAVE_TEST_SECRET_TOKEN"];
    }
  });
});

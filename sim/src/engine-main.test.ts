import { test, type TestContext } from "node:test";
import assert from "node:assert/strict";
import { spawn, type ChildProcessWithoutNullStreams } from "node:child_process";
import { once } from "node:events";
import { createInterface } from "node:readline";
import { fileURLToPath } from "node:url";
import { freePort, stopChild } from "@enclave/runtime";
import { startEngineSim } from "./engine/server.js";

const MAIN = fileURLToPath(new URL("./engine-main.js", import.meta.url));

function spawnEngine(t: TestContext, args: string[]): ChildProcessWithoutNullStreams {
  const child = spawn(process.execPath, [MAIN, ...args], { stdio: ["pipe", "pipe", "pipe"] });
  t.after(() => stopChild(child, 1000));
  return child;
}

/** Exit code (or signal), failing the test if the process outlives `ms`. */
async function exitOf(child: ChildProcessWithoutNullStreams, ms: number): Promise<number | string> {
  if (child.exitCode !== null) return child.exitCode;
  let timer: NodeJS.Timeout | undefined;
  const timeout = new Promise<never>((_, reject) => {
    timer = setTimeout(() => reject(new Error(`engine did not exit within ${ms} ms`)), ms);
  });
  try {
    const [code, signal] = (await Promise.race([once(child, "exit"), timeout])) as [number | null, string | null];
    return code ?? signal ?? "unknown";
  } finally {
    clearTimeout(timer);
  }
}

/** The first stdout line, parsed; fails if the process exits first or prints nothing in time. */
async function listeningLine(child: ChildProcessWithoutNullStreams): Promise<{ event: string; url: string; pid: number }> {
  const lines = createInterface({ input: child.stdout });
  let stderr = "";
  child.stderr.on("data", (b: Buffer) => (stderr += b.toString()));
  let timer: NodeJS.Timeout | undefined;
  try {
    const line = await Promise.race([
      once(lines, "line").then(([l]) => l as string),
      once(child, "exit").then(([code]) => Promise.reject(new Error(`engine exited with ${code}: ${stderr}`))),
      new Promise<never>((_, reject) => {
        timer = setTimeout(() => reject(new Error(`no listening line within 10 s: ${stderr}`)), 10_000);
      }),
    ]);
    return JSON.parse(line);
  } finally {
    clearTimeout(timer);
  }
}

test("prints one listening line, serves, and exits 0 when its parent closes stdin", { timeout: 20_000 }, async (t) => {
  const port = await freePort();
  const child = spawnEngine(t, ["--port", String(port), "--model", "m", "--exit-with-parent", "--ttft-ms", "1", "--itl-ms", "1"]);
  let stdout = "";
  const line = await listeningLine(child);
  child.stdout.on("data", (b: Buffer) => (stdout += b.toString()));
  assert.deepEqual(line, { event: "listening", url: `http://127.0.0.1:${port}`, pid: child.pid });
  const health = await fetch(`${line.url}/health`);
  assert.equal(health.status, 200);
  const chat = await fetch(`${line.url}/v1/chat/completions`, {
    method: "POST",
    body: JSON.stringify({ model: "m", messages: [{ role: "user", content: "hi" }], max_tokens: 2 }),
  });
  assert.equal(((await chat.json()) as any).choices[0].message.content, "This is");
  child.stdin.end();
  assert.equal(await exitOf(child, 5000), 0);
  assert.equal(stdout, "", "nothing but the listening line on stdout");
});

test("SIGTERM closes and exits 0, even with a stream in flight", { timeout: 20_000 }, async (t) => {
  const port = await freePort();
  const child = spawnEngine(t, ["--port", String(port), "--model", "m", "--itl-ms", "10000"]);
  const { url } = await listeningLine(child);
  const stream = await fetch(`${url}/v1/chat/completions`, {
    method: "POST",
    body: JSON.stringify({ model: "m", messages: [{ role: "user", content: "hi" }], stream: true }),
  });
  assert.equal(stream.status, 200);
  child.kill("SIGTERM");
  assert.equal(await exitOf(child, 5000), 0);
  await assert.rejects(stream.text());
});

test("without --exit-with-parent, closing stdin does not stop the engine", { timeout: 20_000 }, async (t) => {
  const port = await freePort();
  const child = spawnEngine(t, ["--port", String(port), "--model", "m", "--ttft-ms", "300", "--output-tokens", "1"]);
  const { url } = await listeningLine(child);
  child.stdin.end();
  // The answer takes 300 ms, far longer than reacting to EOF: an engine that exited on it would drop the request.
  const res = await fetch(`${url}/v1/chat/completions`, { method: "POST", body: JSON.stringify({ messages: [{ role: "user", content: "hi" }] }) });
  assert.equal(res.status, 200);
  assert.equal(((await res.json()) as any).usage.completion_tokens, 1);
  assert.equal(child.exitCode, null);
});

test("bad arguments: a message on stderr and exit code 2", { timeout: 20_000 }, async (t) => {
  for (const args of [["--model", "m"], ["--port", "x", "--model", "m"], ["--port", "1", "--model", "m", "--nope"], ["--port", "1"]]) {
    const child = spawnEngine(t, args);
    let stderr = "";
    child.stderr.on("data", (b: Buffer) => (stderr += b.toString()));
    let stdout = "";
    child.stdout.on("data", (b: Buffer) => (stdout += b.toString()));
    assert.equal(await exitOf(child, 5000), 2, args.join(" "));
    assert.match(stderr, /engine-main: .+\nusage:/);
    assert.equal(stdout, "");
  }
});

test("a port already in use: exit code 1 with the reason on stderr", { timeout: 20_000 }, async (t) => {
  const taken = await startEngineSim({ model: "m" });
  t.after(() => taken.close(), { timeout: 5000 });
  const child = spawnEngine(t, ["--port", String(taken.port), "--model", "m"]);
  let stderr = "";
  child.stderr.on("data", (b: Buffer) => (stderr += b.toString()));
  assert.equal(await exitOf(child, 5000), 1);
  assert.match(stderr, /EADDRINUSE/);
});

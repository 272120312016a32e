import { spawn } from "node:child_process";
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { stopChild, waitFor } from "@enclave/runtime";

/** A throw-away redis-server on a given port: to bring "the same" Redis back after an outage in a test. */
export async function startRedisOnPort(port: number): Promise<{ stop(): Promise<void> }> {
  const dir = mkdtempSync(join(tmpdir(), "enclave-redis-"));
  const child = spawn("redis-server", ["--port", String(port), "--bind", "127.0.0.1", "--save", "", "--appendonly", "no", "--dir", dir], {
    stdio: ["ignore", "pipe", "pipe"],
  });
  let out = "";
  child.stdout.on("data", (b: Buffer) => (out = (out + b.toString()).slice(-10000)));
  child.stderr.on("data", (b: Buffer) => (out = (out + b.toString()).slice(-10000)));
  const stop = () => stopChild(child).finally(() => rmSync(dir, { recursive: true, force: true }));
  try {
    await waitFor(() => {
      if (child.exitCode !== null) throw new Error(`redis-server exited: ${out.slice(-300)}`);
      return out.includes("Ready to accept connections");
    }, { timeoutMs: 10000, what: `redis-server on port ${port}` });
  } catch (e) {
    await stop();
    throw e;
  }
  return { stop };
}

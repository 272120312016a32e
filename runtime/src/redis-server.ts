import { spawn, type ChildProcess } from "node:child_process";
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { freePort } from "./net.js";

export interface RedisServer {
  url: string;
  port: number;
  pid: number;
  stop(): Promise<void>;
}

/**
 * A private, throw-away redis-server: temp dir, loopback, a free port, no persistence.
 * Used by `enclave up` and by every test suite that needs Redis (never the machine's own).
 */
export async function startRedisServer(opts: { bin?: string; host?: string; attempts?: number } = {}): Promise<RedisServer> {
  const host = opts.host ?? "127.0.0.1";
  let lastError: Error | undefined;
  for (let attempt = 0; attempt < (opts.attempts ?? 5); attempt++) {
    const port = await freePort(host);
    const dir = mkdtempSync(join(tmpdir(), "enclave-redis-"));
    try {
      const child = await launch(opts.bin ?? "redis-server", host, port, dir);
      return {
        url: `redis://${host}:${port}`,
        port,
        pid: child.pid ?? 0,
        stop: () => stopChild(child).finally(() => rmSync(dir, { recursive: true, force: true })),
      };
    } catch (e) {
      rmSync(dir, { recursive: true, force: true });
      lastError = e as Error;
    }
  }
  throw lastError ?? new Error("redis-server did not start");
}

function launch(bin: string, host: string, port: number, dir: string): Promise<ChildProcess> {
  return new Promise((resolve, reject) => {
    const child = spawn(
      bin,
      ["--port", String(port), "--bind", host, "--save", "", "--appendonly", "no", "--dir", dir, "--daemonize", "no", "--protected-mode", "yes"],
      { stdio: ["ignore", "pipe", "pipe"] },
    );
    let out = "";
    const timer = setTimeout(() => {
      child.kill("SIGKILL");
      reject(new Error(`redis-server on port ${port} not ready after 10 s: ${out.slice(-500)}`));
    }, 10000);
    const onData = (b: Buffer) => {
      out += b.toString();
      if (out.length > 20000) out = out.slice(-10000);
      if (out.includes("Ready to accept connections")) {
        clearTimeout(timer);
        child.stdout?.off("data", onData);
        child.stdout?.resume();
        resolve(child);
      }
    };
    child.stdout?.on("data", onData);
    child.stderr?.on("data", (b: Buffer) => (out += b.toString()));
    child.on("error", (e) => {
      clearTimeout(timer);
      reject(new Error(`cannot run ${bin}: ${e.message} (install redis-server, or set REDIS_URL)`));
    });
    child.on("exit", (code) => {
      clearTimeout(timer);
      reject(new Error(`redis-server exited with ${code}: ${out.slice(-500)}`));
    });
  });
}

/** SIGTERM, then SIGKILL after a grace period. */
export function stopChild(child: ChildProcess, graceMs = 5000): Promise<void> {
  return new Promise((resolve) => {
    if (child.exitCode !== null || child.signalCode !== null) return resolve();
    const timer = setTimeout(() => child.kill("SIGKILL"), graceMs);
    child.once("exit", () => {
      clearTimeout(timer);
      resolve();
    });
    child.kill("SIGTERM");
  });
}

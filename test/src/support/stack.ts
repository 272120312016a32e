import { spawn, type ChildProcess } from "node:child_process";
import { readFileSync, readdirSync } from "node:fs";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import { createInterface } from "node:readline";
import { RouteTable } from "@enclave/contracts";
import { stopChild } from "@enclave/runtime";

export const CLI = fileURLToPath(import.meta.resolve("@enclave/cli/main"));

export interface UpOutput {
  gateway: string;
  keys: { eu: string; us: string };
  scheduler: string;
  auditLog: string;
  stateDir: string;
}

export interface RunningStack extends UpOutput {
  process: ChildProcess;
  startedInMs: number;
  stop(): Promise<void>;
  /** The scheduler's current route table, read with the gateway's token. */
  routes(): Promise<RouteTable>;
}

/** Starts `enclave up --json --port 0` exactly as an operator would, and reads its one JSON line. */
export async function startUp(timeoutMs = 60000): Promise<RunningStack> {
  const started = Date.now();
  const env = { ...process.env };
  delete env.REDIS_URL; // the stack starts its own private Redis
  const child = spawn(process.execPath, [CLI, "up", "--json", "--port", "0"], { stdio: ["ignore", "pipe", "pipe"], env });
  let stderr = "";
  child.stderr!.on("data", (b: Buffer) => (stderr = (stderr + b.toString()).slice(-20000)));
  const lines = createInterface({ input: child.stdout! });
  const first = await new Promise<string>((resolve, reject) => {
    const timer = setTimeout(() => {
      // Not serving in time: stop it (it stops every process it started) rather than leave it running.
      void stopChild(child, 20000);
      reject(new Error(`enclave up not serving after ${timeoutMs} ms:\n${stderr}`));
    }, timeoutMs);
    lines.once("line", (l) => {
      clearTimeout(timer);
      resolve(l);
    });
    child.once("exit", (code) => {
      clearTimeout(timer);
      reject(new Error(`enclave up exited with ${code}:\n${stderr}`));
    });
  });
  const out = JSON.parse(first) as UpOutput;
  const token = readFileSync(join(out.stateDir, "secrets", "gateway.token"), "utf8").trim();
  return {
    ...out,
    process: child,
    startedInMs: Date.now() - started,
    stop: () => stopChild(child, 20000),
    routes: async () => {
      const r = await fetch(`${out.scheduler}/v1/routes`, { headers: { authorization: `Bearer ${token}` }, signal: AbortSignal.timeout(5000) });
      return RouteTable.parse(await r.json());
    },
  };
}

/** Pids of live processes whose command line contains every one of `needles`. */
export function pidsMatching(...needles: string[]): number[] {
  const pids: number[] = [];
  for (const entry of readdirSync("/proc")) {
    if (!/^\d+$/.test(entry)) continue;
    let cmd: string;
    try {
      cmd = readFileSync(`/proc/${entry}/cmdline`, "utf8").split("\0").join(" ");
    } catch {
      continue;
    }
    if (needles.every((n) => cmd.includes(n))) pids.push(Number(entry));
  }
  return pids;
}

/** Alive and not a zombie (an exited child its parent has not reaped yet counts as gone). */
export function isAlive(pid: number): boolean {
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, "utf8");
    return stat.slice(stat.lastIndexOf(")") + 2, stat.lastIndexOf(")") + 3) !== "Z";
  } catch {
    return false;
  }
}

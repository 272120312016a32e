/** Real processes started inside the segments' namespaces, and the netprobe instrument of each. */
import { spawn, type ChildProcess } from "node:child_process";
import { createWriteStream } from "node:fs";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import { createInterface } from "node:readline";
import { stopChild } from "@enclave/runtime";
import type { Probe, ProbeRequest, ProbeResponse, ProbeResult } from "./probe-protocol.js";

export interface NsProcess {
  name: string;
  child: ChildProcess;
  logFile: string;
  /** The last lines it wrote (stdout and stderr). */
  tail(): string;
  exited(): boolean;
  stop(graceMs?: number): Promise<void>;
}

/**
 * `ip netns exec NS cmd args…`: `ip` enters the namespace and execs the command, so the pid is
 * the command's own. Output goes to `<logDir>/<name>.log`, and the last 16 kB are kept.
 */
export function startIn(ns: string, name: string, cmd: string, args: string[], o: { logDir: string; env?: NodeJS.ProcessEnv; stdin?: "pipe" | "ignore" }): NsProcess {
  const logFile = join(o.logDir, `${name}.log`);
  const log = createWriteStream(logFile, { flags: "a" });
  const child = spawn("ip", ["netns", "exec", ns, cmd, ...args], { stdio: [o.stdin ?? "ignore", "pipe", "pipe"], env: o.env ?? process.env });
  let tail = "";
  const keep = (b: Buffer) => {
    log.write(b);
    tail = (tail + b.toString("utf8")).slice(-16_384);
  };
  child.stdout!.on("data", keep);
  child.stderr!.on("data", keep);
  child.once("close", () => log.end());
  return {
    name,
    child,
    logFile,
    tail: () => tail,
    exited: () => child.exitCode !== null || child.signalCode !== null,
    stop: (graceMs = 8000) => stopChild(child, graceMs),
  };
}

type DistributiveOmit<T, K extends PropertyKey> = T extends unknown ? Omit<T, K> : never;

const NETPROBE = fileURLToPath(new URL("./netprobe.js", import.meta.url));

/** The netprobe process of one namespace: listens and probes from there. */
export class NetProbe {
  private next = 1;
  private readonly pending = new Map<number, (r: ProbeResponse) => void>();
  private readonly ready: Promise<void>;

  private constructor(readonly proc: NsProcess) {
    let readyResolve!: () => void;
    this.ready = new Promise((r) => (readyResolve = r));
    const rl = createInterface({ input: proc.child.stdout! });
    rl.on("line", (line) => {
      let r: ProbeResponse;
      try {
        r = JSON.parse(line) as ProbeResponse;
      } catch {
        return;
      }
      if (r.id === 0) return readyResolve();
      this.pending.get(r.id)?.(r);
      this.pending.delete(r.id);
    });
    proc.child.once("close", () => {
      for (const [, resolve] of this.pending) resolve({ id: -1, error: `netprobe in ${proc.name} exited: ${proc.tail().slice(-500)}` });
      this.pending.clear();
    });
  }

  static async start(ns: string, name: string, logDir: string): Promise<NetProbe> {
    const p = new NetProbe(startIn(ns, `netprobe-${name}`, process.execPath, [NETPROBE, name], { logDir, stdin: "pipe" }));
    await Promise.race([
      p.ready,
      new Promise((_, reject) => p.proc.child.once("close", () => reject(new Error(`netprobe in ${ns} did not start: ${p.proc.tail()}`)))),
    ]);
    return p;
  }

  private send(req: DistributiveOmit<ProbeRequest, "id">): Promise<ProbeResponse> {
    const id = this.next++;
    return new Promise((resolve) => {
      this.pending.set(id, resolve);
      this.proc.child.stdin!.write(JSON.stringify({ ...req, id }) + "\n");
    });
  }

  /** Runs the probes at the same time, from this namespace. */
  async probe(probes: Probe[]): Promise<ProbeResult[]> {
    const r = await this.send({ op: "probe", probes });
    if (r.error !== undefined) throw new Error(r.error);
    return r.results;
  }

  async one(p: Probe): Promise<ProbeResult> {
    return (await this.probe([p]))[0]!;
  }

  async serve(o: { tcp?: number[]; dnsAnswer?: string }): Promise<void> {
    const r = await this.send({ op: "serve", ...o });
    if (r.error !== undefined) throw new Error(`netprobe ${this.proc.name} cannot serve: ${r.error}`);
  }

  /** Closing its stdin ends it. */
  async stop(): Promise<void> {
    this.proc.child.stdin!.end();
    await this.proc.stop(3000);
  }
}

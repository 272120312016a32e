import { spawn, type ChildProcess } from "node:child_process";
import { createServer } from "node:net";
import { fileURLToPath } from "node:url";
import { ENGINE_PORT_RANGE, type EnginePortRange, type SimEngineOptions } from "@enclave/contracts";
import type { Logger } from "@enclave/runtime";
import { choosePort } from "./docker/port-choice.js";
import type { EngineDriver, EngineHandle, EngineSpec } from "./engine-driver.js";
import { parseListeningLine } from "./listening-line.js";
import { LogTail } from "./log-tail.js";

export interface ProcessEngineDriverOptions {
  /** Address engines bind and are advertised on. */
  host: string;
  /** Ports engines listen on (`engines.process.portRange`); default: the firewall's engine range. */
  portRange?: EnginePortRange;
  sim: SimEngineOptions;
  /** How long an engine may take to print its listening line. */
  listenTimeoutMs: number;
  /** The engine script; defaults to the simulator, `@enclave/sim/engine-main`. */
  enginePath?: string;
  /** Characters of engine output kept for diagnostics. */
  logTailChars?: number;
  log?: Logger;
}

/** A port found free can be taken before the engine binds it; this many ports are launched on before giving up. */
const PORT_ATTEMPTS = 3;
/** A listening line longer than this is not one; the buffer is dropped rather than grown. */
const MAX_LINE_CHARS = 64 * 1024;
/** After 'exit', how long to wait for the output pipes to drain before reporting the exit anyway. */
const DRAIN_MS = 500;

/** Environment variables an engine inherits; everything else (tokens among it) stays with the agent. */
const INHERITED_ENV = ["PATH", "HOME", "LANG", "LC_ALL", "TZ", "TMPDIR", "NODE_V8_COVERAGE"];

/**
 * Runs each engine as a child process of the agent: the engine simulator, which
 * speaks vLLM's HTTP API. `spec.args` and `spec.image` are flags for a real vLLM or
 * SGLang container and mean nothing to the simulator, so they are not passed on;
 * the simulator's own knobs come from `engines.sim` in the agent config.
 */
export class ProcessEngineDriver implements EngineDriver {
  private readonly range: EnginePortRange;
  /** Ports handed to engines that are still starting (not bound yet, so a probe would find them free). */
  private readonly starting = new Set<number>();

  constructor(private readonly opts: ProcessEngineDriverOptions) {
    this.range = opts.portRange ?? ENGINE_PORT_RANGE;
  }

  async start(spec: EngineSpec): Promise<EngineHandle> {
    const script = this.opts.enginePath ?? fileURLToPath(import.meta.resolve("@enclave/sim/engine-main"));
    const taken = new Set<number>();
    for (let attempt = 1; ; attempt++) {
      const port = await this.freePort(taken);
      if (port === undefined) throw new Error(`no free port in engines.process.portRange ${this.range.from}-${this.range.to} on ${this.opts.host}`);
      this.starting.add(port);
      try {
        return await this.launch(script, port, spec);
      } catch (e) {
        if (e instanceof PortTaken && attempt < PORT_ATTEMPTS) {
          this.opts.log?.warn({ backendId: spec.backendId, port }, "engine port was taken, trying another");
          taken.add(port);
          continue;
        }
        throw e;
      } finally {
        this.starting.delete(port);
      }
    }
  }

  /** A port of the range that binds on the engine host now, from a random point on (see choosePort); undefined when none does. */
  private async freePort(taken: Set<number>): Promise<number | undefined> {
    const skip = new Set([...taken, ...this.starting]);
    for (;;) {
      const port = choosePort(this.range, skip);
      if (port === undefined) return undefined;
      if (await binds(this.opts.host, port)) return port;
      skip.add(port);
    }
  }

  private launch(script: string, port: number, spec: EngineSpec): Promise<ProcessEngineHandle> {
    const { host, sim, listenTimeoutMs } = this.opts;
    const args = [
      script,
      "--host", host,
      "--port", String(port),
      "--model", spec.model,
      "--ttft-ms", String(sim.ttftMs),
      "--itl-ms", String(sim.itlMs),
      "--max-concurrent", String(sim.maxConcurrent),
      "--output-tokens", String(sim.outputTokens),
      // The engine exits when its stdin closes, so it cannot outlive the agent even after a SIGKILL.
      "--exit-with-parent",
    ];
    const child = spawn(process.execPath, args, { stdio: ["pipe", "pipe", "pipe"], env: engineEnv(spec) });
    const tail = new LogTail(this.opts.logTailChars ?? 8192);
    child.stdin?.on("error", () => {}); // EPIPE once the engine is gone; its exit is reported elsewhere.
    child.stderr?.setEncoding("utf8");
    child.stderr?.on("data", (s: string) => tail.push(s));
    child.stdout?.setEncoding("utf8");

    return new Promise<ProcessEngineHandle>((resolve, reject) => {
      let buffered = "";
      let settled = false;
      const settle = (fn: () => void) => {
        if (settled) return;
        settled = true;
        clearTimeout(timer);
        fn();
      };
      const onStdout = (s: string) => {
        tail.push(s);
        if (settled) return;
        buffered += s;
        let nl: number;
        while ((nl = buffered.indexOf("\n")) >= 0) {
          const line = buffered.slice(0, nl);
          buffered = buffered.slice(nl + 1);
          const listening = parseListeningLine(line);
          if (listening) {
            settle(() => resolve(new ProcessEngineHandle(child, listening.url, tail)));
            return;
          }
        }
        if (buffered.length > MAX_LINE_CHARS) buffered = "";
      };
      child.stdout?.on("data", onStdout);
      let timedOut = false;
      const timer = setTimeout(() => {
        // Reap it before rejecting (in the exit handler), so a failed start leaves no process behind.
        timedOut = true;
        child.kill("SIGKILL");
      }, listenTimeoutMs);
      child.once("error", (e) => {
        child.kill("SIGKILL");
        settle(() => reject(new Error(`cannot run engine: ${e.message}`)));
      });
      // 'close' rather than 'exit': the pipes have drained, so the log tail says why.
      child.once("close", (code, signal) =>
        settle(() => {
          if (timedOut) return reject(new Error(`engine did not report listening within ${listenTimeoutMs} ms${logSuffix(tail)}`));
          if (/EADDRINUSE/.test(tail.toString())) return reject(new PortTaken(port));
          reject(new Error(`engine ${exitText(code, signal)} before listening${logSuffix(tail)}`));
        }),
      );
    });
  }
}

/** Whether `host:port` can be listened on right now. */
function binds(host: string, port: number): Promise<boolean> {
  return new Promise((resolve) => {
    const s = createServer();
    s.unref();
    s.once("error", () => resolve(false));
    s.listen({ host, port, exclusive: true }, () => s.close(() => resolve(true)));
  });
}

class PortTaken extends Error {
  constructor(port: number) {
    super(`port ${port} already in use`);
  }
}

class ProcessEngineHandle implements EngineHandle {
  readonly pid: number | undefined;
  private ended: { code: number | null; signal: string | null } | undefined;
  private readonly callbacks: ((code: number | null, signal: string | null, logTail: string) => void)[] = [];
  private readonly endedPromise: Promise<void>;

  constructor(
    private readonly child: ChildProcess,
    readonly url: string,
    private readonly tail: LogTail,
  ) {
    this.pid = child.pid;
    this.endedPromise = new Promise((resolve) => {
      const end = () => {
        if (this.ended) return;
        this.ended = { code: child.exitCode, signal: child.signalCode };
        for (const cb of this.callbacks.splice(0)) this.call(cb);
        resolve();
      };
      if (child.exitCode !== null || child.signalCode !== null) return end();
      // 'close' comes after the output pipes drained, so the log tail is complete; a
      // grandchild holding the pipes open must not hide the exit, hence the timer.
      child.once("close", end);
      child.once("exit", () => setTimeout(end, DRAIN_MS).unref());
    });
  }

  onExit(cb: (code: number | null, signal: string | null, logTail: string) => void): void {
    if (this.ended) setImmediate(() => this.call(cb));
    else this.callbacks.push(cb);
  }

  async stop(graceMs: number): Promise<void> {
    if (!this.ended && this.child.exitCode === null && this.child.signalCode === null) {
      const timer = setTimeout(() => this.child.kill("SIGKILL"), graceMs);
      this.child.kill("SIGTERM");
      await this.endedPromise;
      clearTimeout(timer);
    }
    await this.endedPromise;
  }

  private call(cb: (code: number | null, signal: string | null, logTail: string) => void): void {
    const e = this.ended ?? { code: null, signal: null };
    cb(e.code, e.signal, this.tail.toString());
  }
}

function engineEnv(spec: EngineSpec): NodeJS.ProcessEnv {
  const env: NodeJS.ProcessEnv = {};
  for (const k of INHERITED_ENV) if (process.env[k] !== undefined) env[k] = process.env[k];
  // What a real engine would be confined to; the simulator ignores it.
  env["CUDA_VISIBLE_DEVICES"] = spec.gpus.join(",");
  return env;
}

function exitText(code: number | null, signal: string | null): string {
  if (signal) return `was killed by ${signal}`;
  return `exited with code ${code ?? "unknown"}`;
}

function logSuffix(tail: LogTail): string {
  const t = tail.toString().trim();
  return t ? `; log: ${t.slice(-1000)}` : "";
}

import { spawn } from "node:child_process";

export interface RunToolOptions {
  /** The call is killed (its whole process group) after this long. */
  timeoutMs: number;
  /** stdout plus stderr beyond this kills the call: a tool printing without end must not fill memory. */
  maxOutputBytes: number;
  env?: NodeJS.ProcessEnv;
}

/**
 * How a tool call ended. Never an exception: the caller decides what a missing tool,
 * a hang or a non-zero exit means for the hardware it reads.
 */
export type ToolOutcome =
  | { kind: "exited"; code: number | null; signal: NodeJS.Signals | null; stdout: string; stderr: string }
  | { kind: "timeout"; stdout: string; stderr: string }
  | { kind: "too-much-output"; stdout: string; stderr: string }
  | { kind: "spawn-error"; error: string };

/** After the kill, how long to wait for the pipes to close; a process stuck in the kernel may never close them. */
const AFTER_KILL_MS = 1000;

/** One started call: how it ended for the caller, and when its process is really gone. */
export interface ToolRun {
  outcome: Promise<ToolOutcome>;
  /**
   * Resolves once the process has exited. After a kill the outcome comes at most
   * AFTER_KILL_MS later, but a process stuck in the kernel (a GPU driver that hangs) may
   * outlive its kill by hours; this says when it is gone.
   */
  ended: Promise<void>;
}

/**
 * Runs a host tool (nvidia-smi, ipmitool) without a shell, with a deadline and an output
 * bound. The tool gets its own process group so that a kill reaches whatever it started.
 */
export function runTool(file: string, args: readonly string[], opts: RunToolOptions): Promise<ToolOutcome> {
  return startTool(file, args, opts).outcome;
}

/** runTool, also saying when the process is gone. */
export function startTool(file: string, args: readonly string[], opts: RunToolOptions): ToolRun {
  let markEnded: () => void = () => {};
  const ended = new Promise<void>((resolve) => (markEnded = resolve));
  const outcome = new Promise<ToolOutcome>((resolve) => {
    let child;
    try {
      child = spawn(file, args, { stdio: ["ignore", "pipe", "pipe"], detached: true, env: opts.env ?? process.env });
    } catch (e) {
      markEnded();
      resolve({ kind: "spawn-error", error: describeSpawnError(file, e) });
      return;
    }
    child.once("exit", () => markEnded());
    const out: Buffer[] = [];
    const err: Buffer[] = [];
    let bytes = 0;
    let ending: "timeout" | "too-much-output" | undefined;
    let settled = false;
    let afterKill: NodeJS.Timeout | undefined;

    const text = (chunks: Buffer[]) => Buffer.concat(chunks).toString("utf8");
    const settle = (outcome: ToolOutcome) => {
      if (settled) return;
      settled = true;
      clearTimeout(deadline);
      clearTimeout(afterKill);
      child.stdout?.destroy();
      child.stderr?.destroy();
      resolve(outcome);
    };
    const kill = (why: "timeout" | "too-much-output") => {
      if (ending) return;
      ending = why;
      killGroup(child.pid);
      afterKill = setTimeout(() => settle({ kind: why, stdout: text(out), stderr: text(err) }), AFTER_KILL_MS);
      afterKill.unref();
    };
    const collect = (into: Buffer[]) => (b: Buffer) => {
      if (ending) return;
      bytes += b.length;
      if (bytes > opts.maxOutputBytes) return kill("too-much-output");
      into.push(b);
    };
    child.stdout.on("data", collect(out));
    child.stderr.on("data", collect(err));
    const deadline = setTimeout(() => kill("timeout"), opts.timeoutMs);
    deadline.unref();

    child.on("error", (e) => {
      // No process was started (or it is gone): nothing can linger.
      if (child.pid === undefined || child.exitCode !== null || child.signalCode !== null) markEnded();
      settle({ kind: "spawn-error", error: describeSpawnError(file, e) });
    });
    child.on("close", (code, signal) => {
      if (ending) settle({ kind: ending, stdout: text(out), stderr: text(err) });
      else settle({ kind: "exited", code, signal, stdout: text(out), stderr: text(err) });
    });
  });
  return { outcome, ended };
}

/** Calls waiting behind the one in flight; more means the tool cannot keep up, and the caller hears so. */
const MAX_QUEUED = 8;

/**
 * Calls of one tool against one device, one at a time: each starts when the one before it
 * has ended, and none starts while a call that was killed has not exited (a process stuck
 * in the kernel): a new one would only get stuck beside it, and they would pile up with
 * every poll. Such calls end at once with the reason instead.
 */
export class ToolLane {
  private tail: Promise<unknown> = Promise.resolve();
  private queued = 0;
  /** The last call's process, while it has not exited. */
  private lingering: Promise<void> | undefined;

  constructor(
    private readonly tool: string,
    private readonly start: typeof startTool = startTool,
  ) {}

  run(file: string, args: readonly string[], opts: RunToolOptions): Promise<ToolOutcome> {
    if (this.queued >= MAX_QUEUED) return Promise.resolve({ kind: "spawn-error", error: `${this.tool} is busy: too many calls waiting` });
    this.queued++;
    const call = this.tail.then((): Promise<ToolOutcome> | ToolOutcome => {
      if (this.lingering) {
        return { kind: "spawn-error", error: `an earlier ${this.tool} call was killed and has not exited (stuck in the kernel?); no new one starts until it does` };
      }
      const run = this.start(file, args, opts);
      const ended = run.ended.then(() => {
        if (this.lingering === ended) this.lingering = undefined;
      });
      this.lingering = ended;
      return run.outcome;
    });
    this.tail = call.finally(() => this.queued--);
    return call;
  }
}

/** One line for logs and reports: what went wrong with the call. */
export function describeOutcome(tool: string, o: ToolOutcome, timeoutMs: number): string {
  switch (o.kind) {
    case "spawn-error":
      return o.error;
    case "timeout":
      return `${tool} did not finish within ${timeoutMs} ms and was killed`;
    case "too-much-output":
      return `${tool} printed more output than expected and was killed`;
    case "exited": {
      const how = o.signal ? `was killed by ${o.signal}` : `exited with code ${o.code}`;
      const said = firstLine(o.stderr) || firstLine(o.stdout);
      return said ? `${tool} ${how}: ${said}` : `${tool} ${how}`;
    }
  }
}

/** The first non-empty line, cut to a length fit for a report. */
export function firstLine(s: string, max = 200): string {
  const line = s.split(/\r?\n/).find((l) => l.trim() !== "") ?? "";
  return line.trim().slice(0, max);
}

/** SIGKILL to the process group a detached child leads (to the child alone if that fails). */
export function killGroup(pid: number | undefined): void {
  if (pid === undefined) return;
  try {
    process.kill(-pid, "SIGKILL");
  } catch {
    try {
      process.kill(pid, "SIGKILL");
    } catch {
      // Already gone.
    }
  }
}

/** Why a tool could not be started, in a report's words: `nvidia-smi: not found`. */
export function describeSpawnError(file: string, e: unknown): string {
  const code = (e as NodeJS.ErrnoException).code;
  if (code === "ENOENT") return `${file}: not found`;
  if (code === "EACCES") return `${file}: permission denied`;
  return `${file}: cannot run (${code ?? (e instanceof Error ? e.message : String(e))})`;
}

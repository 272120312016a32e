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

/**
 * Runs a host tool (nvidia-smi, ipmitool) without a shell, with a deadline and an output
 * bound. The tool gets its own process group so that a kill reaches whatever it started.
 */
export function runTool(file: string, args: readonly string[], opts: RunToolOptions): Promise<ToolOutcome> {
  return new Promise((resolve) => {
    let child;
    try {
      child = spawn(file, args, { stdio: ["ignore", "pipe", "pipe"], detached: true, env: opts.env ?? process.env });
    } catch (e) {
      resolve({ kind: "spawn-error", error: describeSpawnError(file, e) });
      return;
    }
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

    child.on("error", (e) => settle({ kind: "spawn-error", error: describeSpawnError(file, e) }));
    child.on("close", (code, signal) => {
      if (ending) settle({ kind: ending, stdout: text(out), stderr: text(err) });
      else settle({ kind: "exited", code, signal, stdout: text(out), stderr: text(err) });
    });
  });
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

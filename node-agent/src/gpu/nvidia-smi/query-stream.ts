import { spawn, type ChildProcess } from "node:child_process";
import { describeOutcome, describeSpawnError, killGroup, type ToolOutcome } from "../../host/run-tool.js";
import { LoopReadings } from "./loop-readings.js";

export interface QueryStreamOptions {
  /** The nvidia-smi binary. */
  path: string;
  /** `-lms`: how often nvidia-smi prints a reading. */
  intervalMs: number;
  /** The first reading within this, each next one within `intervalMs` more, or the loop counts as hung and is stopped. */
  timeoutMs: number;
  now?: () => number;
}

export type StreamReading = { ok: true; outcome: Extract<ToolOutcome, { kind: "exited" }> } | { ok: false; why: string };

/** Bounds on a line and on what nvidia-smi prints on stderr. */
const MAX_LINE_CHARS = 64 * 1024;
const MAX_STDERR_CHARS = 16 * 1024;

/**
 * One long-running `nvidia-smi --query-gpu=… --format=csv -lms N`, which saves a process start
 * on every reading: several ms of the agent's CPU, and nvidia-smi's own driver initialisation.
 * It runs in its own process group, killed on `stop()`; were the agent killed, its next write
 * to the closed pipe ends it. A loop that exits, prints no first reading within `timeoutMs`
 * or no new one for `intervalMs + timeoutMs` (hung, or holding its piped output back), has
 * ended for good:
 * `latest()` says why, and the caller reads without it.
 */
export class QueryStream {
  private child: ChildProcess | undefined;
  private readonly readings: LoopReadings;
  private partial = "";
  private stderr = "";
  private ended: string | undefined;
  private readonly startedAt: number;
  private readonly waiters: (() => void)[] = [];
  private readonly now: () => number;
  private markExited: () => void = () => {};
  /** Resolves once its process has exited (a killed one stuck in the driver may take long). */
  readonly exited = new Promise<void>((resolve) => (this.markExited = resolve));

  /** Starts nvidia-smi querying `fields`, expecting `gpuCount` rows a round at first. */
  constructor(
    private readonly o: QueryStreamOptions,
    readonly fields: readonly string[],
    gpuCount: number,
  ) {
    this.now = o.now ?? Date.now;
    this.startedAt = this.now();
    this.readings = new LoopReadings(fields, gpuCount, o.intervalMs / 2);
    try {
      this.child = spawn(o.path, [`--query-gpu=${fields.join(",")}`, "--format=csv", "-lms", String(o.intervalMs)], { stdio: ["ignore", "pipe", "pipe"], detached: true });
    } catch (e) {
      this.markExited();
      this.end(describeSpawnError(o.path, e));
      return;
    }
    const child = this.child;
    // A monitor never keeps the agent's process alive; stop() ends it, and so would the closed pipe.
    child.unref();
    for (const pipe of [child.stdout, child.stderr]) (pipe as { unref?: () => void } | null)?.unref?.();
    child.stdout?.setEncoding("utf8");
    child.stderr?.setEncoding("utf8");
    child.stdout?.on("data", (s: string) => this.onData(s));
    child.stderr?.on("data", (s: string) => (this.stderr = (this.stderr + s).slice(0, MAX_STDERR_CHARS)));
    child.on("error", (e) => {
      if (child.pid === undefined || child.exitCode !== null || child.signalCode !== null) this.markExited();
      this.end(describeSpawnError(o.path, e));
    });
    child.once("exit", () => this.markExited());
    child.on("close", (code, signal) => {
      // Gone and reaped: nothing left to kill, and its process group id may be reused.
      this.child = undefined;
      this.end(describeOutcome("nvidia-smi -lms", { kind: "exited", code, signal, stdout: this.readings.early(), stderr: this.stderr }, o.timeoutMs));
    });
  }

  /** Whether it ever printed a complete reading. */
  get producedReadings(): boolean {
    return this.readings.latest() !== undefined;
  }

  /**
   * The latest complete reading, as one call's output would be. nvidia-smi prints its first
   * round at once, so the first is waited for up to `timeoutMs`, like a single call; after
   * that, a loop with no new reading for `intervalMs + timeoutMs` is stopped and says so.
   */
  async latest(): Promise<StreamReading> {
    if (this.ended === undefined && !this.readings.latest()) {
      await new Promise<void>((resolve) => {
        const timer = setTimeout(resolve, Math.max(0, this.startedAt + this.o.timeoutMs - this.now()));
        this.waiters.push(() => {
          clearTimeout(timer);
          resolve();
        });
      });
    }
    const r = this.readings.latest();
    const deadlineMs = r ? this.o.intervalMs + this.o.timeoutMs : this.o.timeoutMs;
    if (this.ended === undefined && (!r || this.now() - r.at > deadlineMs)) this.end(`nvidia-smi -lms printed no complete reading for ${deadlineMs} ms and was stopped`);
    if (this.ended !== undefined || !r) return { ok: false, why: this.ended ?? "ended" };
    return { ok: true, outcome: { kind: "exited", code: 0, signal: null, stdout: r.text, stderr: "" } };
  }

  /** Stops the loop. Idempotent. */
  stop(): void {
    this.end("stopped");
  }

  private onData(s: string): void {
    if (this.ended !== undefined) return;
    const lines = (this.partial + s).split("\n");
    this.partial = lines.pop() ?? "";
    if (this.partial.length > MAX_LINE_CHARS) return this.end("nvidia-smi -lms printed a line without end and was stopped");
    let completed = false;
    for (const line of lines) completed = this.readings.push(line.endsWith("\r") ? line.slice(0, -1) : line, this.now()) || completed;
    if (completed) for (const w of this.waiters.splice(0)) w();
  }

  private end(why: string): void {
    if (this.ended !== undefined) return;
    this.ended = why;
    killGroup(this.child?.pid);
    this.child?.stdout?.destroy();
    this.child?.stderr?.destroy();
    for (const w of this.waiters.splice(0)) w();
  }
}

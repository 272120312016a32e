import { closeSync, constants, openSync, readFileSync, readSync } from "node:fs";

/** One kernel log message. `time`: ms since epoch (from the record's boot-relative stamp when it has one). */
export interface KernelRecord {
  seq: number | null;
  time: number;
  message: string;
}

/**
 * `/dev/kmsg` record: `priority,sequence,microseconds-since-boot,flags[,...];message`.
 * Continuation lines (` KEY=value` dictionary) start with a space and are not records.
 */
const KMSG = /^(\d+),(\d+),(\d+),[^;]*;(.*)$/;

/** A line as a record; lines in other formats (dmesg output, plain text) keep their text and get `now`. */
export function parseKernelLine(line: string, bootTimeMs: number, now: number): KernelRecord | undefined {
  if (line === "" || line.startsWith(" ")) return undefined;
  const m = KMSG.exec(line);
  if (m?.[2] && m[3] && m[4] !== undefined) return { seq: Number(m[2]), time: Math.round(bootTimeMs + Number(m[3]) / 1000), message: m[4] };
  return { seq: null, time: now, message: line };
}

export type KernelPoll = { ok: true; records: KernelRecord[] } | { ok: false; error: string };

/** /dev/kmsg hands out one record per read and wants room for the largest (8 KiB). */
const READ_SIZE = 16 * 1024;

/**
 * Reads new kernel log records without blocking: /dev/kmsg (each open sees the whole ring
 * buffer once, then only what is new) or, for tests and rehearsals, a plain file appended to.
 * A log it may not read is an error value, reported once by the caller, never retried in a loop.
 */
export class KernelLogReader {
  private fd: number | undefined;
  private failed: string | undefined;
  private partial = "";
  private boot: number | undefined;
  private readonly buf = Buffer.alloc(READ_SIZE);

  constructor(
    private readonly path: string,
    private readonly opts: { maxBytesPerPoll?: number; now?: () => number; bootTimeMs?: () => number } = {},
  ) {}

  poll(): KernelPoll {
    if (this.failed !== undefined) return { ok: false, error: this.failed };
    if (this.fd === undefined) {
      try {
        this.fd = openSync(this.path, constants.O_RDONLY | constants.O_NONBLOCK);
      } catch (e) {
        this.failed = `cannot read the kernel log ${this.path}: ${(e as NodeJS.ErrnoException).code ?? String(e)}`;
        return { ok: false, error: this.failed };
      }
    }
    const now = this.opts.now?.() ?? Date.now();
    // Boot time is fixed; reading /proc/uptime once is enough.
    this.boot ??= this.opts.bootTimeMs?.() ?? bootTime(now);
    const boot = this.boot;
    const limit = this.opts.maxBytesPerPoll ?? 4 * 1024 * 1024;
    const records: KernelRecord[] = [];
    let total = 0;
    let overruns = 0;
    while (total < limit) {
      let n: number;
      try {
        n = readSync(this.fd, this.buf, 0, READ_SIZE, null);
      } catch (e) {
        const code = (e as NodeJS.ErrnoException).code;
        // EPIPE: records we had not read yet were overwritten; the next read goes on after them.
        if (code === "EPIPE" && ++overruns <= 3) continue;
        if (code === "EAGAIN" || code === "EWOULDBLOCK") break;
        this.close();
        this.failed = `cannot read the kernel log ${this.path}: ${code ?? String(e)}`;
        return { ok: false, error: this.failed };
      }
      if (n === 0) break;
      total += n;
      const text = this.partial + this.buf.toString("utf8", 0, n);
      const lines = text.split("\n");
      this.partial = (lines.pop() ?? "").slice(-READ_SIZE);
      for (const line of lines) {
        const r = parseKernelLine(line, boot, now);
        if (r) records.push(r);
      }
    }
    return { ok: true, records };
  }

  close(): void {
    if (this.fd === undefined) return;
    try {
      closeSync(this.fd);
    } catch {
      // Closing is best effort.
    }
    this.fd = undefined;
  }
}

/** Wall-clock time of boot, from /proc/uptime. */
function bootTime(now: number): number {
  try {
    const up = Number(readFileSync("/proc/uptime", "utf8").split(" ")[0]);
    if (Number.isFinite(up)) return now - up * 1000;
  } catch {
    // Not Linux: records then carry times relative to an unknown boot.
  }
  return now;
}

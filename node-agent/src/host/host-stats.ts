import { cpus, loadavg } from "node:os";
import type { HostStats } from "@enclave/contracts";
import si from "systeminformation";

/** Filesystems that are no disk. */
const NOT_DISKS = new Set(["tmpfs", "devtmpfs", "squashfs", "ramfs", "efivarfs", "proc", "sysfs", "cgroup", "cgroup2", "overlay"]);
const MAX_DISKS = 32;

/**
 * Host CPU, memory, load and disks through systeminformation. Each part has a deadline;
 * the disk listing runs `df`, which can hang on a dead network mount, so at most one runs
 * at a time and a hung one leaves the last known disks in place.
 */
export class HostStatsReader {
  private disks: HostStats["disks"] = [];
  private diskRead: Promise<void> | undefined;
  private disksAt = Number.NEGATIVE_INFINITY;

  /** Disks fill slowly and listing them runs `df`: they are read every `diskIntervalMs`, CPU and memory on every call. */
  constructor(
    private readonly timeoutMs = 5000,
    private readonly diskIntervalMs = 5 * 60_000,
  ) {}

  async read(): Promise<HostStats> {
    const now = Date.now();
    if (!this.diskRead && now - this.disksAt >= this.diskIntervalMs) {
      this.disksAt = now;
      this.diskRead = this.readDisks().finally(() => (this.diskRead = undefined));
    }
    const [load, mem] = await Promise.all([within(si.currentLoad(), this.timeoutMs), within(si.mem(), this.timeoutMs), this.diskRead ? within(this.diskRead, this.timeoutMs) : undefined]);
    const [l1, l5, l15] = loadavg();
    const total = mem ? mem.total : null;
    return {
      cpuCount: cpus().length || null,
      cpuLoadPct: load && Number.isFinite(load.currentLoad) ? clampPct(load.currentLoad) : null,
      load1: finite(l1),
      load5: finite(l5),
      load15: finite(l15),
      memoryTotalBytes: total,
      memoryUsedBytes: mem && total !== null ? Math.max(0, total - mem.available) : null,
      disks: this.disks,
    };
  }

  private async readDisks(): Promise<void> {
    const list = await si.fsSize().catch(() => undefined);
    if (!list) return;
    this.disks = list
      .filter((d) => !NOT_DISKS.has(d.type) && d.size > 0)
      .slice(0, MAX_DISKS)
      .map((d) => ({ mount: d.mount.slice(0, 256), sizeBytes: d.size, usedBytes: Math.max(0, d.used) }));
  }
}

/** The value, or undefined once `ms` passed (or it failed). */
async function within<T>(p: Promise<T>, ms: number): Promise<T | undefined> {
  let timer: NodeJS.Timeout | undefined;
  const late = new Promise<undefined>((resolve) => {
    timer = setTimeout(() => resolve(undefined), ms);
  });
  try {
    return await Promise.race([p.catch(() => undefined), late]);
  } finally {
    clearTimeout(timer);
  }
}

function finite(n: number | undefined): number | null {
  return n !== undefined && Number.isFinite(n) && n >= 0 ? n : null;
}

function clampPct(n: number): number {
  return Math.min(100, Math.max(0, n));
}

import { readFile, statfs } from "node:fs/promises";
import { cpus, freemem, loadavg, totalmem, type CpuInfo } from "node:os";
import type { HostStats } from "@enclave/contracts";

/** Filesystems that are no disk (pseudo filesystems, memory, container layers); `autofs` would even mount something when asked. */
const NOT_DISKS = new Set([
  "tmpfs", "devtmpfs", "squashfs", "ramfs", "efivarfs", "proc", "sysfs", "cgroup", "cgroup2", "overlay", "autofs", "devpts", "mqueue",
  "debugfs", "tracefs", "securityfs", "pstore", "bpf", "configfs", "fusectl", "hugetlbfs", "binfmt_misc", "nsfs", "rpc_pipefs", "selinuxfs", "nfsd",
]);
/** Network filesystems, left out as `df -l` leaves them out: asking a dead server hangs the asker. */
const REMOTE = new Set(["nfs", "nfs4", "cifs", "smb3", "smbfs", "ncpfs", "afs", "ceph", "glusterfs", "lustre", "beegfs", "gpfs", "9p", "fuse.sshfs", "fuse.glusterfs", "fuse.s3fs", "fuse.rclone", "fuse.ceph"]);
const MAX_DISKS = 32;

export interface Mount {
  source: string;
  mount: string;
  type: string;
}

/**
 * The local disks among `/proc/self/mounts` lines (fstab(5) fields, octal escapes for
 * spaces): no pseudo or network filesystems, each device once, at its shortest mount
 * point (a bind mount is the same disk), in mount order.
 */
export function localDiskMounts(text: string): Mount[] {
  const byDevice = new Map<string, Mount>();
  for (const line of text.split("\n")) {
    const [source, mount, type] = line.split(" ").map(unescapeMountField);
    if (!source || !mount || !type) continue;
    if (NOT_DISKS.has(type) || REMOTE.has(type) || source.includes(":") || source.startsWith("//")) continue;
    const seen = byDevice.get(source);
    if (!seen || mount.length < seen.mount.length) byDevice.set(source, { source, mount, type });
  }
  return [...byDevice.values()];
}

function unescapeMountField(s: string): string {
  return s.replace(/\\([0-7]{3})/g, (_, oct: string) => String.fromCharCode(parseInt(oct, 8)));
}

/** Share of all CPUs busy between two `os.cpus()` readings, 0..100; null when no time passed or the CPU set changed. */
export function cpuBusyPct(before: readonly CpuInfo[] | undefined, after: readonly CpuInfo[]): number | null {
  let busy = 0;
  let total = 0;
  if (before && before.length !== after.length) return null;
  after.forEach((c, i) => {
    const b = before?.[i]?.times;
    const t = c.times;
    const d = (k: keyof CpuInfo["times"]) => t[k] - (b?.[k] ?? 0);
    const all = d("user") + d("nice") + d("sys") + d("idle") + d("irq");
    total += all;
    busy += all - d("idle");
  });
  if (!(total > 0)) return null;
  return Math.min(100, Math.max(0, (busy / total) * 100));
}

/**
 * Host CPU, memory, load and disks, read from the kernel directly (os module, /proc,
 * statfs). Disks fill slowly: they are read every `diskIntervalMs`, at most one listing at
 * a time, and a listing that hangs (a dead disk) leaves the last known disks in place.
 * systeminformation did this before; it spawns a shell synchronously for every CPU reading,
 * blocking the agent's event loop, and costs ~10 MB of resident memory.
 */
export class HostStatsReader {
  private disks: HostStats["disks"] = [];
  private diskRead: Promise<void> | undefined;
  private disksAt = Number.NEGATIVE_INFINITY;
  private lastCpus: CpuInfo[] | undefined;

  constructor(
    private readonly timeoutMs = 5000,
    private readonly diskIntervalMs = 5 * 60_000,
    private readonly mountsFile = "/proc/self/mounts",
  ) {}

  async read(): Promise<HostStats> {
    const now = Date.now();
    if (!this.diskRead && now - this.disksAt >= this.diskIntervalMs) {
      this.disksAt = now;
      this.diskRead = this.readDisks().finally(() => (this.diskRead = undefined));
    }
    if (this.diskRead) await within(this.diskRead, this.timeoutMs);
    const current = cpus();
    const cpuLoadPct = cpuBusyPct(this.lastCpus, current);
    this.lastCpus = current;
    const [l1, l5, l15] = loadavg();
    const total = totalmem();
    return {
      cpuCount: current.length || null,
      cpuLoadPct,
      load1: finite(l1),
      load5: finite(l5),
      load15: finite(l15),
      memoryTotalBytes: total > 0 ? total : null,
      // os.freemem() is MemAvailable: what can be had without swapping, reclaimable cache included.
      memoryUsedBytes: total > 0 ? Math.max(0, total - freemem()) : null,
      disks: this.disks,
    };
  }

  private async readDisks(): Promise<void> {
    const text = await readFile(this.mountsFile, "utf8").catch(() => undefined);
    if (text === undefined) return;
    const out: HostStats["disks"] = [];
    for (const m of localDiskMounts(text)) {
      if (out.length >= MAX_DISKS) break;
      const s = await statfs(m.mount).catch(() => undefined);
      if (!s || s.blocks <= 0) continue;
      out.push({ mount: m.mount.slice(0, 256), sizeBytes: s.blocks * s.bsize, usedBytes: Math.max(0, (s.blocks - s.bfree) * s.bsize) });
    }
    this.disks = out;
  }
}

/** Resolves when `p` settles or `ms` passed, whichever is first. */
async function within(p: Promise<unknown>, ms: number): Promise<void> {
  let timer: NodeJS.Timeout | undefined;
  const late = new Promise<void>((resolve) => {
    timer = setTimeout(resolve, ms);
  });
  try {
    await Promise.race([p.catch(() => undefined), late]);
  } finally {
    clearTimeout(timer);
  }
}

function finite(n: number | undefined): number | null {
  return n !== undefined && Number.isFinite(n) && n >= 0 ? n : null;
}

import assert from "node:assert/strict";
import { mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { cpus, tmpdir, totalmem, type CpuInfo } from "node:os";
import { join } from "node:path";
import { describe, test } from "node:test";
import { HostStats } from "@enclave/contracts";
import { cpuBusyPct, HostStatsReader, localDiskMounts } from "./host-stats.js";

/** Lines as a GPU server's /proc/self/mounts has them (this machine's, plus NFS, CIFS, autofs, a bind mount and an escaped space). */
const MOUNTS = [
  "proc /proc proc rw,relatime 0 0",
  "sysfs /sys sysfs rw,relatime 0 0",
  "devtmpfs /dev devtmpfs rw,relatime,size=12335116k,nr_inodes=3083779,mode=755 0 0",
  "tmpfs /dev/shm tmpfs rw,relatime,size=24683772k 0 0",
  "/dev/vda / ext4 rw,relatime,discard 0 0",
  "cgroup2 /sys/fs/cgroup/unified cgroup2 rw,relatime 0 0",
  "/dev/vda /run/netns ext4 rw,relatime,discard 0 0",
  "/dev/nvme0n1p2 /var/lib/enclave/models xfs rw,noatime 0 0",
  "/dev/nvme1n1 /data\\040disk ext4 rw,relatime 0 0",
  "systemd-1 /mnt/auto autofs rw,relatime,fd=29 0 0",
  "fileserver:/export/models /mnt/models nfs4 rw,relatime,vers=4.2 0 0",
  "//fs/share /mnt/share cifs rw 0 0",
  "overlay /var/lib/docker/overlay2/x/merged overlay rw,lowerdir=a 0 0",
  "",
].join("\n");

const cpu = (user: number, idle: number): CpuInfo => ({ model: "x", speed: 1, times: { user, nice: 0, sys: 0, idle, irq: 0 } });

describe("host statistics", () => {
  test("disks: local filesystems only, each device once at its shortest mount point, escapes decoded", () => {
    assert.deepEqual(
      localDiskMounts(MOUNTS).map((m) => m.mount),
      ["/", "/var/lib/enclave/models", "/data disk"],
    );
  });

  test("CPU busy share between two readings; none when no time passed or the CPUs changed", () => {
    assert.equal(cpuBusyPct([cpu(100, 100), cpu(0, 200)], [cpu(150, 150), cpu(100, 200)]), 75);
    assert.equal(cpuBusyPct(undefined, [cpu(1, 3)]), 25, "the first reading: since boot");
    assert.equal(cpuBusyPct([cpu(1, 1)], [cpu(1, 1)]), null);
    assert.equal(cpuBusyPct([cpu(1, 1)], [cpu(2, 2), cpu(2, 2)]), null);
  });

  test("a reading of this machine matches the report schema, with the disks its mounts list", async (t) => {
    const dir = mkdtempSync(join(tmpdir(), "enclave-host-"));
    t.after(() => rmSync(dir, { recursive: true, force: true }));
    const mounts = join(dir, "mounts");
    writeFileSync(mounts, `/dev/fake-root / ext4 rw 0 0\nserver:/x ${dir} nfs4 rw 0 0\n`);
    const reader = new HostStatsReader(5000, 60_000, mounts);
    const first = HostStats.parse(await reader.read());
    assert.equal(first.cpuCount, cpus().length);
    assert.equal(first.memoryTotalBytes, totalmem());
    assert.ok(first.memoryUsedBytes !== null && first.memoryUsedBytes > 0 && first.memoryUsedBytes <= totalmem());
    assert.deepEqual(first.disks.map((d) => d.mount), ["/"]);
    assert.ok(first.disks[0] && first.disks[0].sizeBytes > 0 && first.disks[0].usedBytes <= first.disks[0].sizeBytes);
    const second = HostStats.parse(await reader.read());
    assert.ok(second.cpuLoadPct === null || (second.cpuLoadPct >= 0 && second.cpuLoadPct <= 100));
  });

  test("unreadable mounts leave no disks and no error", async () => {
    const r = await new HostStatsReader(5000, 60_000, "/nonexistent/mounts").read();
    assert.deepEqual(r.disks, []);
  });
});

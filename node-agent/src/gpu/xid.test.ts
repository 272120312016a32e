import assert from "node:assert/strict";
import { appendFileSync, existsSync, mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { describe, test } from "node:test";
import { KernelLogReader, parseKernelLine } from "../host/kernel-log.js";
import { appendKmsg, fixture } from "../test-support/fake-nvidia-smi.js";
import { parseXid, XidHistory } from "./xid.js";

describe("Xid lines", () => {
  test("a real dmesg capture with Xid 119 (GSP timeout) on one GPU", () => {
    const lines = fixture("kernel", "dmesg-xid-119_gpud.log").split("\n");
    const xids = lines.flatMap((l) => parseXid(l, 0) ?? []);
    assert.equal(xids.length, 5);
    assert.ok(xids.every((x) => x.code === 119 && x.pci === "0:155:0"));
    assert.match(xids[0]?.message ?? "", /^NVRM: Xid \(PCI:0000:9b:00\): 119, pid=2024380, name=nvidia-smi, Timeout after 6s/);
  });

  test("older drivers' form without PCI:, and lines that only look alike", () => {
    assert.equal(parseXid("NVRM: Xid (0000:01:00): 13, Graphics Exception", 1)?.code, 13);
    assert.equal(parseXid("NVRM: Xid (PCI:0000:44:00): 79, GPU has fallen off the bus.", 1)?.pci, "0:68:0");
    assert.equal(parseXid("NVRM: GPU at PCI:0000:9b:00: GPU-509665ad", 1), undefined);
    assert.equal(parseXid("NVRM: Xid (PCI:zzzz): 79", 1), undefined);
  });

  test("history keeps the window, a bounded number per GPU and a bounded number of GPUs", () => {
    const h = new XidHistory(60_000, 3, 2);
    const rec = (pci: string, code: number, time: number) => ({ pci, code, time, message: `x ${code}` });
    h.add([rec("0:1:0", 1, 0), rec("0:1:0", 2, 50_000), rec("0:1:0", 3, 60_000), rec("0:1:0", 4, 70_000), rec("0:2:0", 5, 70_000), rec("0:3:0", 6, 70_000)]);
    assert.deepEqual(
      h.recent("00000000:01:00.0", 80_000).map((x) => x.code),
      [2, 3, 4],
    );
    assert.deepEqual(h.recent("0000:01:00.0", 125_000).map((x) => x.code), [4]);
    assert.deepEqual(h.recent("0000:03:00.0", 70_000), [], "a third address is not tracked");
    assert.deepEqual(h.recent(null, 70_000), []);
  });

  test("a flood of one application Xid does not push out the hardware Xid that failed the GPU", () => {
    const h = new XidHistory(3_600_000);
    const line = (code: number, what: string) => parseXid(`NVRM: Xid (PCI:0000:28:00): ${code}, pid=1234, name=python3, ${what}`, 0);
    const fell = parseXid("NVRM: Xid (PCI:0000:28:00): 79, pid=0, GPU has fallen off the bus.", 1000);
    assert.ok(fell);
    h.add([fell]);
    for (let i = 0; i < 200; i++) {
      const r = line(43, "Ch 00000008, intr 00000000. Graphics Exception");
      assert.ok(r);
      h.add([{ ...r, time: 2000 + i }]);
    }
    const recent = h.recent("00000000:28:00.0", 5000);
    assert.deepEqual(recent.map((x) => [x.code, x.time]), [[79, 1000], [43, 2199]], "each code once, at its latest, newest last");
  });
});

describe("kernel log", () => {
  test("kmsg records (a real capture): sequence, boot-relative time, message; continuation lines skipped", () => {
    const lines = fixture("kernel", "kmsg-records_gpud.log").split("\n");
    const recs = lines.map((l) => parseKernelLine(l, 1_000_000, 5));
    assert.equal(recs.length, 47);
    assert.deepEqual(recs[0], { seq: 3964, time: 1_000_000 + 206_764, message: "nvidia-nvswitch2: open (major=510)" });
    assert.equal(parseKernelLine(" SUBSYSTEM=pci", 0, 0), undefined);
    assert.deepEqual(parseKernelLine("[Sun Feb 23 16:24:18 2025] plain", 0, 7), { seq: null, time: 7, message: "[Sun Feb 23 16:24:18 2025] plain" });
  });

  test("a followed file yields only what is new, across torn writes", (t) => {
    const dir = mkdtempSync(join(tmpdir(), "enclave-kmsg-"));
    t.after(() => rmSync(dir, { recursive: true, force: true }));
    const file = join(dir, "kmsg");
    writeFileSync(file, "");
    const r = new KernelLogReader(file, { bootTimeMs: () => 0 });
    t.after(() => r.close());
    appendKmsg(file, 1, 2_000_000, "NVRM: Xid (PCI:0000:9b:00): 79, GPU has fallen off the bus.");
    appendFileSync(file, "3,2,3000000,-;NVRM: Xid (PCI:0000:9b:00): 48, An uncorr");
    let p = r.poll();
    assert.ok(p.ok);
    assert.deepEqual(p.records.map((x) => x.seq), [1]);
    assert.equal(p.records[0]?.time, 2000);
    appendFileSync(file, "ectable double bit error\n");
    p = r.poll();
    assert.ok(p.ok);
    assert.deepEqual(p.records.map((x) => x.message), ["NVRM: Xid (PCI:0000:9b:00): 48, An uncorrectable double bit error"]);
    p = r.poll();
    assert.ok(p.ok && p.records.length === 0);
  });

  test("a log that cannot be read is an error value, reported the same every time without retrying", () => {
    const r = new KernelLogReader("/nonexistent/kmsg");
    const a = r.poll();
    const b = r.poll();
    assert.equal(a.ok, false);
    assert.deepEqual(a, b);
    assert.match(a.ok ? "" : a.error, /ENOENT/);
  });

  test("the real /dev/kmsg, where readable: reads without blocking, then only new records", { skip: existsSync("/dev/kmsg") ? false : "this machine has no /dev/kmsg (containers often hide it)" }, () => {
    const r = new KernelLogReader("/dev/kmsg");
    try {
      const first = r.poll();
      if (!first.ok) return; // not readable here: nothing more to check
      assert.ok(first.records.every((x) => typeof x.message === "string"));
      const second = r.poll();
      assert.ok(second.ok);
      const seqs = new Set(first.records.map((x) => x.seq));
      assert.ok(second.records.every((x) => !seqs.has(x.seq)), "no record twice");
    } finally {
      r.close();
    }
  });
});

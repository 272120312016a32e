import { before, after, test } from "node:test";
import assert from "node:assert/strict";
import { existsSync } from "node:fs";
import { mkdtemp, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { SyslogSinkConfig } from "@enclave/contracts";
import { waitFor } from "@enclave/runtime/time";
import { silentLogger } from "../logger.js";
import { SpoolBudget } from "../spool/budget.js";
import type { SpooledEntry } from "../spool/spool-reader.js";
import { Spool } from "../spool/spool.js";
import { routedEvent } from "../testing/fixtures.js";
import { makeTestPki, type TestPki } from "../testing/pki.js";
import { startRsyslog, type Rsyslog } from "../testing/rsyslog.js";
import { decodeAuditLine } from "../verify/audit-line.js";
import { Shipper } from "./shipper.js";
import { syslogSink } from "./syslog-sink.js";

let dir: string;
let pki: TestPki;
let rsyslog: Rsyslog;

before(async () => {
  dir = await mkdtemp(join(tmpdir(), "enclave-syslog-"));
  pki = await makeTestPki(join(dir, "pki"));
  rsyslog = await startRsyslog(join(dir, "rsyslog"), pki);
});
after(async () => {
  await rsyslog?.stop();
  await rm(dir, { recursive: true, force: true });
});

function sink(client: { cert: string; key: string }, extra: Record<string, unknown> = {}) {
  return syslogSink(SyslogSinkConfig.parse({
    type: "syslog", host: "127.0.0.1", port: rsyslog.port, serverName: "localhost",
    tls: { ca: pki.ca, cert: client.cert, key: { file: client.key } }, hostname: "gw-host", ...extra,
  }));
}

const entries = (tag: string, n: number): SpooledEntry[] =>
  Array.from({ length: n }, (_, i) => {
    const value = { tag, seq: i, reason: `del\u007f "q" ]b\\ température ✓ 推論 ${"x".repeat(i === 3 ? 20_000 : 10)}` };
    return { json: JSON.stringify(value), kind: "record", seq: i, time: new Date().toISOString(), emitter: "gw-1", chain: "eu-central-1", end: { segment: "", offset: 0 } };
  });

test("a batch over mutual TLS (GnuTLS receiver) is stored whole, one message per line, and reads back as sent", async () => {
  const batch = entries("ok", 50);
  await sink(pki.client).deliver(batch, AbortSignal.timeout(10_000));
  const lines = await waitFor(async () => {
    const ls = (await rsyslog.lines()).filter((l) => l.includes('"tag":"ok"'));
    return ls.length >= 50 ? ls : null;
  }, { timeoutMs: 10_000, what: "50 lines stored" });
  assert.equal(lines.length, 50);
  lines.forEach((l, i) => {
    assert.match(l, /^<86>1 \S+ gw-host enclave \d+ audit-record \[enclave-audit@32473 emitter="gw-1" chain="eu-central-1" seq="\d+"\] \uFEFF\{/);
    assert.deepEqual(decodeAuditLine(l), { kind: "entry", value: JSON.parse(batch[i]!.json) });
  });
});

test("a client certificate outside PermittedPeer is refused and nothing of it is stored", async () => {
  await assert.rejects(sink(pki.intruder).deliver(entries("intruder", 3), AbortSignal.timeout(10_000)));
  await assert.rejects(sink(pki.client, { serverName: "wrong.example" }).deliver(entries("wrongname", 1), AbortSignal.timeout(10_000)), /altnames|Hostname/i);
  // A later good delivery is stored; the refused ones never are.
  await sink(pki.client).deliver(entries("after", 1), AbortSignal.timeout(10_000));
  await waitFor(async () => (await rsyslog.lines()).some((l) => l.includes('"tag":"after"')), { timeoutMs: 10_000, what: "the later delivery" });
  const all = await rsyslog.lines();
  assert.equal(all.filter((l) => l.includes("intruder") || l.includes("wrongname")).length, 0);
});

test("a refused client certificate never counts as delivered: 30 small deliveries, fresh and reused sinks, all rejected, none stored", async () => {
  // rsyslog checks PermittedPeer after the handshake and then closes, racing a small batch's close.
  const reused = sink(pki.intruder);
  const outcomes: string[] = [];
  for (let i = 0; i < 30; i++) {
    const s = i % 2 === 0 ? reused : sink(pki.intruder);
    const r = await s.deliver(entries(`repeat-intruder-${i}`, 1 + (i % 3)), AbortSignal.timeout(10_000)).then(() => "delivered", (e: Error) => e.message);
    outcomes.push(r);
  }
  reused.close?.();
  assert.deepEqual(outcomes.filter((o) => o === "delivered"), [], outcomes.join("\n"));
  for (const o of outcomes) assert.doesNotMatch(o, /timeout/, "a refusal is seen at once, not by waiting");
  await sink(pki.client).deliver(entries("after-repeats", 1), AbortSignal.timeout(10_000));
  await waitFor(async () => (await rsyslog.lines()).some((l) => l.includes('"tag":"after-repeats"')), { timeoutMs: 10_000, what: "the later delivery" });
  assert.equal((await rsyslog.lines()).filter((l) => l.includes("repeat-intruder")).length, 0);
});

test("a shipper whose certificate the receiver refuses ships nothing and deletes nothing, however often it tries", async (t) => {
  const spoolDir = join(dir, "refused-spool");
  const spool = await Spool.open({
    dir: spoolDir, emitter: "gw-refused", chain: "eu-central-1", segmentBytes: 4096, groupCommit: { maxDelayMs: 1, maxBytes: 1 << 20 },
    maxRecordBytes: 60_000, budget: new SpoolBudget(1e9, "fail-closed", 1),
  });
  t.after(() => spool.close());
  for (let i = 0; i < 40; i++) await spool.append({ ...routedEvent(i), reason: "refused-shipper" });
  const segments = spool.segments().map((s) => s.name);
  assert.ok(segments.length > 2);
  const shipper = await Shipper.start(spool, sink(pki.intruder), { batchRecords: 3, batchBytes: 1 << 20, timeoutMs: 5000, pollMs: 50, lingerMs: 0, backoff: { initialMs: 10, maxMs: 20 } }, silentLogger);
  t.after(() => shipper.stop());
  await waitFor(() => shipper.stats().failures >= 15, { timeoutMs: 30_000, what: "15 refused deliveries" });
  const st = shipper.stats();
  assert.equal(st.shipped, 0);
  assert.equal(st.up, false);
  assert.equal(st.backlogRecords, 40);
  assert.deepEqual(spool.segments().map((s) => s.name), segments, "no segment deleted");
  assert.equal(existsSync(join(spoolDir, "shipped.json")), false, "no position saved");
  assert.equal((await rsyslog.lines()).filter((l) => l.includes("refused-shipper")).length, 0);
});

test("one sink delivers batch after batch on connections it prepares meanwhile, and again after the receiver restarts", async () => {
  const s = sink(pki.client);
  try {
    for (let i = 0; i < 4; i++) await s.deliver(entries(`reuse-${i}`, 5), AbortSignal.timeout(10_000));
    // The connection prepared for the next delivery dies with the receiver; the next delivery opens its own.
    await rsyslog.stop();
    await rsyslog.start();
    await s.deliver(entries("reuse-restarted", 5), AbortSignal.timeout(10_000));
  } finally {
    s.close?.();
  }
  const tags = ["reuse-0", "reuse-1", "reuse-2", "reuse-3", "reuse-restarted"];
  await waitFor(async () => {
    const ls = await rsyslog.lines();
    return tags.every((t) => ls.filter((l) => l.includes(`"tag":"${t}"`)).length === 5);
  }, { timeoutMs: 10_000, what: "every batch stored" });
});

test("a receiver that is down or too slow fails the delivery", async () => {
  await rsyslog.stop();
  try {
    await assert.rejects(sink(pki.client).deliver(entries("down", 1), AbortSignal.timeout(5000)), /ECONNREFUSED/);
  } finally {
    await rsyslog.start();
  }
  await assert.rejects(sink(pki.client).deliver(entries("abort", 1), AbortSignal.abort()), /abort/i);
});

import { before, after, test } from "node:test";
import assert from "node:assert/strict";
import { mkdtemp, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { SyslogSinkConfig } from "@enclave/contracts";
import { waitFor } from "@enclave/runtime/time";
import type { SpooledEntry } from "../spool/spool-reader.js";
import { makeTestPki, type TestPki } from "../testing/pki.js";
import { startRsyslog, type Rsyslog } from "../testing/rsyslog.js";
import { decodeAuditLine } from "../verify/audit-line.js";
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

test("a receiver that is down or too slow fails the delivery", async () => {
  await rsyslog.stop();
  try {
    await assert.rejects(sink(pki.client).deliver(entries("down", 1), AbortSignal.timeout(5000)), /ECONNREFUSED/);
  } finally {
    await rsyslog.start();
  }
  await assert.rejects(sink(pki.client).deliver(entries("abort", 1), AbortSignal.abort()), /abort/i);
});

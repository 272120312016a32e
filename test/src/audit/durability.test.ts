/**
 * The spool keeps its promises with a real gateway process: a `kill -9` mid-load loses no
 * answered request's record and the chain goes on after a restart; with the disk budget
 * used up and `fail-closed`, requests get 503 and nothing is served unrecorded.
 */
import { test } from "node:test";
import assert from "node:assert/strict";
import { spawnSync } from "node:child_process";
import { appendFile, readdir } from "node:fs/promises";
import { join } from "node:path";
import { encodeFrame } from "@enclave/audit";
import { makeTestPki } from "@enclave/audit/testing/pki";
import { startRsyslog } from "@enclave/audit/testing/rsyslog";
import { openWithDsync, tempDir } from "@enclave/audit/testing/fixtures";
import { waitFor } from "@enclave/runtime";
import { CLI } from "../support/stack.js";
import { EU, US, ask, load, metric, sinkCaughtUp, spoolRecords, startEngine, startGatewayProcess, writeGatewayConfig } from "./support.js";

function verify(...args: string[]) {
  return spawnSync(process.execPath, [CLI, "audit", "verify", ...args], { encoding: "utf8", timeout: 60_000 });
}

// `written` acknowledges a record once it is in the page cache, which a killed process cannot take back.
for (const acknowledge of ["durable", "written"] as const) test(`kill -9 while writing (acknowledge ${acknowledge}): after a restart the spool recovers and every answered request has its record`, async (t) => {
  const dir = await tempDir(t, "enclave-audit-kill-");
  const pki = await makeTestPki(join(dir, "pki"));
  const engines = { eu: await startEngine(t), us: await startEngine(t) };
  const files = await writeGatewayConfig({ dir, pki, engines, sinks: null, spool: { acknowledge } });
  const first = await startGatewayProcess(t, files);
  // The mode under test is the one in effect: its segments are open with O_DSYNC only when durable.
  assert.equal(await openWithDsync(first.child.pid!, ".seg"), acknowledge === "durable");

  const traffic = load(first.url, 8, (i) => (i % 7 === 6 ? "bad" : i % 2 === 0 ? "eu" : "us"));
  await waitFor(() => traffic.answers.length >= 150, { timeoutMs: 20_000, what: "150 answers" });
  first.child.kill("SIGKILL");
  await traffic.stop();
  // A power cut could also leave half a batch behind: add one to the EU chain's active segment.
  const euDir = join(files.spoolDir, EU);
  const active = (await readdir(euDir)).filter((n) => n.endsWith(".seg")).sort().at(-1)!;
  const frame = encodeFrame(JSON.stringify({ seq: 1e9, prevHash: "0".repeat(64), torn: true }));
  const torn = frame.subarray(0, frame.length - 20);
  await appendFile(join(euDir, active), torn);

  const second = await startGatewayProcess(t, files);
  await waitFor(() => second.log().includes("cut a torn tail off the audit spool"), { timeoutMs: 5000, what: "the recovery log line" });
  const records = await spoolRecords(files.spoolDir);
  const recorded = new Set(records.map((r) => r.bodySha256));
  const served = traffic.answers.filter((a) => a.status === 200);
  assert.ok(served.length >= 100, `${served.length} served`);
  assert.equal(served.filter((a) => !recorded.has(a.bodySha256)).length, 0, "answered requests without a record");
  assert.ok(records.filter((r) => r.status === 401).length >= traffic.answers.filter((a) => a.status === 401).length);

  // The chains continue across the crash.
  for (let i = 0; i < 5; i++) assert.equal((await ask(second.url, i % 2 === 0 ? "eu" : "us")).status, 200);
  await second.stop();
  const v = verify("--public-key", files.publicKey, "--sealed", files.spoolDir);
  assert.equal(v.status, 0, v.stdout + v.stderr);
  const after = await spoolRecords(files.spoolDir);
  assert.equal(after.length, records.length + 5);
});

test("disk budget used up with fail-closed: 503 audit_unavailable, nothing served unrecorded; shipping frees it again", async (t) => {
  const dir = await tempDir(t, "enclave-audit-budget-");
  const pki = await makeTestPki(join(dir, "pki"));
  const [euSink, usSink] = await Promise.all([startRsyslog(join(dir, "rsyslog-eu"), pki), startRsyslog(join(dir, "rsyslog-us"), pki)]);
  t.after(() => euSink.stop());
  t.after(() => usSink.stop());
  // Both receivers away from the start: nothing can leave the spool.
  await Promise.all([euSink.stop(), usSink.stop()]);
  const engines = { eu: await startEngine(t), us: await startEngine(t) };
  const files = await writeGatewayConfig({
    dir, pki, engines, sinks: { eu: euSink.port, us: usSink.port },
    spool: { segmentBytes: 16 * 1024, budgetBytes: 96 * 1024, reserveBytesPerRequest: 4096, onBudgetExhausted: "fail-closed" },
  });
  const gw = await startGatewayProcess(t, files);

  const traffic = load(gw.url, 4, (i) => (i % 2 === 0 ? "eu" : "us"));
  await waitFor(() => traffic.answers.filter((a) => a.status === 503).length >= 20, { timeoutMs: 30_000, what: "requests refused" });
  await traffic.stop();
  // One request at a time until even a lone request's record would not fit: the gateway is then not ready.
  for (let i = 0; i < 100; i++) {
    const a = await ask(gw.url, "eu");
    traffic.answers.push(a);
    if (a.status === 503) break;
  }
  const refused = traffic.answers.filter((a) => a.status === 503);
  assert.ok(refused.every((a) => a.code === "audit_unavailable"), JSON.stringify([...new Set(refused.map((a) => a.code))]));
  assert.equal((await fetch(`${gw.url}/readyz`)).status, 503);
  assert.equal(await metric(gw.url, "enclave_audit_spool_budget_exhausted"), 1);
  assert.ok((await metric(gw.url, "enclave_audit_refused_requests_total"))! >= refused.length);
  assert.ok((await metric(gw.url, "enclave_audit_spool_bytes"))! <= 96 * 1024);

  const served = traffic.answers.filter((a) => a.status === 200);
  assert.ok(served.length > 10);
  const recorded = new Set((await spoolRecords(files.spoolDir)).map((r) => r.bodySha256));
  assert.equal(served.filter((a) => !recorded.has(a.bodySha256)).length, 0, "served without a record");
  assert.equal(refused.filter((a) => recorded.has(a.bodySha256)).length, 0, "a refused request has no record: it was not served");

  // The receivers come back: the backlog ships, shipped segments are deleted, requests are served again.
  await Promise.all([euSink.start(), usSink.start()]);
  await waitFor(async () => (await metric(gw.url, "enclave_audit_spool_budget_exhausted")) === 0, { timeoutMs: 30_000, what: "the budget freed by shipping" });
  assert.equal((await ask(gw.url, "eu")).status, 200);
  await waitFor(async () => (await metric(gw.url, "enclave_audit_backlog_records", EU)) === 0 && (await metric(gw.url, "enclave_audit_backlog_records", US)) === 0, { timeoutMs: 30_000, what: "both backlogs drained" });
  await gw.stop();
  await sinkCaughtUp(files.spoolDir, EU, euSink.output);
  await sinkCaughtUp(files.spoolDir, US, usSink.output);
  for (const file of [euSink.output, usSink.output]) {
    const v = verify("--public-key", files.publicKey, "--sealed", file);
    assert.equal(v.status, 0, v.stdout + v.stderr);
  }
});

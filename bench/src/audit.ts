import { mkdtemp, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { Shipper, Spool, SpoolBudget, silentLogger, syslogSink, type AuditLogger } from "@enclave/audit";
import { makeTestPki } from "@enclave/audit/testing/pki";
import { startRsyslog } from "@enclave/audit/testing/rsyslog";
import { routedEvent } from "@enclave/audit/testing/fixtures";
import { SyslogSinkConfig } from "@enclave/contracts";
import { waitFor } from "@enclave/runtime";
import type { BenchContext, BenchPart } from "./part.js";

/*
 * The audit spool and shipping, on this machine's disk and with a real rsyslog:
 * 1. records/s appended to one chain with group commit (every record durable — O_DSYNC write —
 *    before its append resolves), with APPENDERS appends in flight as a busy gateway has;
 * 2. records/s shipped from a filled spool to rsyslog (GnuTLS, mutual TLS, RFC 5425
 *    octet counting) and acknowledged, rsyslog writing each to a file.
 * Goals: ≥ 50,000 records/s spooled, ≥ 20,000 records/s shipped.
 */

const RECORDS = Number(process.env.BENCH_AUDIT_RECORDS ?? 200_000);
const APPENDERS = Number(process.env.BENCH_AUDIT_APPENDERS ?? 1000);
const GOAL_SPOOLED = 50_000;
const GOAL_SHIPPED = 20_000;

export const auditBench: BenchPart = {
  name: "audit",
  describe: `audit: ${RECORDS} records spooled with group commit (${APPENDERS} in flight), then shipped to rsyslog over mutual TLS`,
  async run(ctx) {
    const dir = await mkdtemp(join(tmpdir(), "enclave-bench-audit-"));
    try {
      const spool = await spooled(ctx, join(dir, "spool"));
      await shipped(ctx, dir, spool);
    } finally {
      await rm(dir, { recursive: true, force: true });
    }
  },
};

async function spooled(ctx: BenchContext, dir: string): Promise<Spool> {
  const spool = await Spool.open({
    dir, emitter: "bench-gw", chain: "eu-central-1", segmentBytes: 16 * 1024 * 1024,
    groupCommit: { maxDelayMs: 2, maxBytes: 1024 * 1024 }, maxRecordBytes: 60_000, budget: new SpoolBudget(1e12, "fail-closed", 8192),
  });
  const latencies: number[] = [];
  let next = 0;
  const appender = async () => {
    while (next < RECORDS) {
      const i = next++;
      const t0 = performance.now();
      await spool.append(routedEvent(i));
      if (i % 16 === 0) latencies.push(performance.now() - t0);
    }
  };
  const cpu0 = process.cpuUsage();
  const t0 = performance.now();
  await Promise.all(Array.from({ length: APPENDERS }, appender));
  const seconds = (performance.now() - t0) / 1000;
  const cpu = process.cpuUsage(cpu0);
  // CPU time per record tells this code's cost apart from a machine busy with other work.
  const cpuUs = (cpu.user + cpu.system) / RECORDS;
  const rate = RECORDS / seconds;
  latencies.sort((a, b) => a - b);
  const p = (q: number) => latencies[Math.min(latencies.length - 1, Math.floor(q * latencies.length))]!;
  const bytes = spool.segments().reduce((n, s) => n + s.size, 0);
  ctx.print(`spooled  ${RECORDS} records in ${seconds.toFixed(2)} s: ${Math.round(rate)} records/s (goal ≥ ${GOAL_SPOOLED}) — ${spool.commits} synchronous writes, ${(RECORDS / spool.commits).toFixed(0)} records per batch, append latency p50 ${p(0.5).toFixed(1)} ms p99 ${p(0.99).toFixed(1)} ms, ${(bytes / RECORDS).toFixed(0)} bytes/record, ${cpuUs.toFixed(1)} µs CPU/record (${Math.round(1e6 / cpuUs)}/s on one free core)`);
  ctx.emit({ metric: "audit_spooled_records_per_second", value: Math.round(rate), goal: GOAL_SPOOLED, met: rate >= GOAL_SPOOLED, records: RECORDS, appenders: APPENDERS, fsyncs: spool.commits, p50_ms: p(0.5), p99_ms: p(0.99), cpu_us_per_record: cpuUs });
  return spool;
}

async function shipped(ctx: BenchContext, dir: string, spool: Spool): Promise<void> {
  const pki = await makeTestPki(join(dir, "pki"));
  const rsyslog = await startRsyslog(join(dir, "rsyslog"), pki);
  const log: AuditLogger = silentLogger;
  try {
    const cfg = SyslogSinkConfig.parse({
      type: "syslog", host: "127.0.0.1", port: rsyslog.port, serverName: "localhost",
      tls: { ca: pki.ca, cert: pki.client.cert, key: { file: pki.client.key } },
    });
    const t0 = performance.now();
    const shipper = await Shipper.start(spool, syslogSink(cfg), { ...cfg, backoff: cfg.backoff }, log);
    await waitFor(() => shipper.stats().backlogRecords === 0, { timeoutMs: 600_000, intervalMs: 5, what: "the backlog shipped" });
    const seconds = (performance.now() - t0) / 1000;
    const s = shipper.stats();
    await shipper.stop();
    const rate = RECORDS / seconds;
    // Acknowledged means rsyslog read it all; give its file writer a moment to catch up before counting.
    const stored = await waitFor(async () => {
      const n = (await rsyslog.lines()).length;
      return n >= RECORDS ? n : null;
    }, { timeoutMs: 60_000, what: "rsyslog's file" });
    ctx.print(`shipped  ${RECORDS} records in ${seconds.toFixed(2)} s: ${Math.round(rate)} records/s acknowledged (goal ≥ ${GOAL_SHIPPED}) — ${s.failures} failed deliveries, ${stored} lines in rsyslog's file`);
    ctx.emit({ metric: "audit_shipped_records_per_second", value: Math.round(rate), goal: GOAL_SHIPPED, met: rate >= GOAL_SHIPPED, records: RECORDS, stored, batch_records: cfg.batchRecords });
  } finally {
    await rsyslog.stop();
    await spool.close();
  }
}

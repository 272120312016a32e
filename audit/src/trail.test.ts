import { test, type TestContext } from "node:test";
import assert from "node:assert/strict";
import { generateKeyPairSync } from "node:crypto";
import { readdir, readFile } from "node:fs/promises";
import { join } from "node:path";
import { AuditSpoolConfig, type AuditSinkConfig, SyslogSinkConfig } from "@enclave/contracts";
import { waitFor } from "@enclave/runtime/time";
import { checkpointSigner, verifyKeys } from "./chain/checkpoint.js";
import type { AuditSink } from "./ship/sink.js";
import type { SpooledEntry } from "./spool/spool-reader.js";
import { deniedEvent, routedEvent, tempDir } from "./testing/fixtures.js";
import { AuditTrail, type AuditTrailOptions } from "./trail.js";
import { verifyAuditPath } from "./verify.js";

const sinkCfg = (): AuditSinkConfig => SyslogSinkConfig.parse({ type: "syslog", host: "unused", tls: { ca: "x", cert: "x", key: { file: "x" } }, lingerMs: 0, pollMs: 20 });

function options(dir: string, o: Partial<AuditTrailOptions> = {}): AuditTrailOptions {
  return {
    emitter: "gw-1", homeRegion: "eu-central-1",
    spool: AuditSpoolConfig.parse({ dir, segmentBytes: 4096, budgetBytes: 1 << 30, groupCommit: { maxDelayMs: 1 } }),
    sinks: {}, maxRecordBytes: 60_000, ...o,
  };
}

async function openTrail(t: TestContext, o: AuditTrailOptions): Promise<AuditTrail> {
  const trail = await AuditTrail.open(o);
  t.after(() => trail.close());
  return trail;
}

function signer() {
  const { privateKey, publicKey } = generateKeyPairSync("ed25519");
  return { signer: checkpointSigner(privateKey.export({ type: "pkcs8", format: "pem" }).toString()), keys: verifyKeys([publicKey.export({ type: "spki", format: "pem" }).toString()]) };
}

test("records go to the chain of the region that served them; denials to the home region's", async (t) => {
  const dir = await tempDir(t);
  const trail = await openTrail(t, options(dir));
  const eu = await trail.append(routedEvent(1, "eu-central-1"));
  const us = await trail.append(routedEvent(2, "us-east-1"));
  const denied = await trail.append(deniedEvent());
  assert.deepEqual([eu.chain, eu.seq, us.chain, us.seq, denied.chain, denied.seq], ["eu-central-1", 0, "us-east-1", 0, "eu-central-1", 1]);
  assert.deepEqual((await readdir(dir)).sort(), ["eu-central-1", "lock", "us-east-1"]);
  const v = await verifyAuditPath(dir);
  assert.deepEqual(v.problems, []);
  assert.deepEqual(v.chains.map((c) => [c.chain, c.records]).sort(), [["eu-central-1", 2], ["us-east-1", 1]]);
  await assert.rejects(trail.append(routedEvent(3, "../escape")), /not a region id/);
  const stats = trail.stats();
  assert.deepEqual(stats.chains.map((c) => [c.chain, c.appended, c.shipping]).sort(), [["eu-central-1", 2, null], ["us-east-1", 1, null]]);
});

test("one process per spool directory", async (t) => {
  const dir = await tempDir(t);
  await openTrail(t, options(dir));
  await assert.rejects(AuditTrail.open(options(dir)), /already open in this process/);
});

test("fail-closed refuses new requests once a record might not fit; alert-only keeps admitting", async (t) => {
  const dir = await tempDir(t);
  const spool = AuditSpoolConfig.parse({ dir, segmentBytes: 4096, budgetBytes: 16384, reserveBytesPerRequest: 2048 });
  const trail = await openTrail(t, options(dir, { spool }));
  let admitted = 0;
  for (;;) {
    const a = trail.admit();
    if (a === null) break;
    await trail.append(routedEvent(admitted), a);
    a.release();
    admitted++;
    assert.ok(admitted < 100, "the budget never ran out");
  }
  assert.ok(admitted > 5);
  const s = trail.stats().budget;
  assert.equal(s.exhausted, true);
  assert.equal(s.refused, 1);
  assert.ok(s.usedBytes + 2048 > 16384);
  const v = await verifyAuditPath(dir);
  assert.equal(v.records, admitted);

  const dir2 = await tempDir(t);
  const alert = await openTrail(t, options(dir2, { spool: { ...spool, dir: dir2, onBudgetExhausted: "alert-only" } }));
  for (let i = 0; i < admitted + 5; i++) {
    const a = alert.admit();
    assert.ok(a);
    await alert.append(routedEvent(i), a);
    a.release();
  }
  assert.equal(alert.stats().budget.exhausted, true);
});

test("checkpoints sign each chain periodically and on close, so the whole chain verifies as sealed", async (t) => {
  const dir = await tempDir(t);
  const { signer: s, keys } = signer();
  const trail = await AuditTrail.open(options(dir, { checkpoint: { signer: s, intervalMs: 100 } }));
  await trail.append(routedEvent(1));
  await waitFor(async () => (await verifyAuditPath(dir, { keys })).chains[0]?.checkpoints === 1, { timeoutMs: 5000, what: "a periodic checkpoint" });
  await trail.append(routedEvent(2, "us-east-1"));
  await trail.append(routedEvent(3));
  await trail.close();
  const v = await verifyAuditPath(dir, { keys, requireSealed: true });
  assert.deepEqual(v.problems, []);
  assert.deepEqual(v.chains.map((c) => [c.chain, c.records, c.checkpoints, c.unsealed]).sort(), [["eu-central-1", 2, 2, 0], ["us-east-1", 1, 1, 0]]);

  // Reopened: the chains continue where they were.
  const again = await openTrail(t, options(dir, { checkpoint: { signer: s, intervalMs: 100 } }));
  const r = await again.append(routedEvent(4));
  assert.equal(r.seq, 4);
});

test("each region's chain is shipped to that region's sink only", async (t) => {
  const dir = await tempDir(t);
  const got = new Map<string, SpooledEntry[]>();
  const sinkFactory = (region: string): AuditSink => ({
    name: `memory://${region}`,
    async deliver(entries) {
      got.set(region, [...(got.get(region) ?? []), ...entries]);
    },
  });
  const trail = await openTrail(t, options(dir, { sinks: { "eu-central-1": sinkCfg(), "us-east-1": sinkCfg() }, sinkFactory }));
  await trail.append(routedEvent(1, "eu-central-1"));
  await trail.append(routedEvent(2, "us-east-1"));
  await trail.append(deniedEvent());
  await trail.append(routedEvent(3, "ap-south-1"));
  await waitFor(() => (got.get("eu-central-1")?.length ?? 0) === 2 && (got.get("us-east-1")?.length ?? 0) === 1, { timeoutMs: 5000, what: "shipped" });
  assert.deepEqual(got.get("eu-central-1")!.map((e) => JSON.parse(e.json).decision), ["routed", "denied"]);
  assert.ok(got.get("us-east-1")!.every((e) => e.chain === "us-east-1"));
  assert.equal(got.has("ap-south-1"), false);
  const stats = trail.stats().chains.find((c) => c.chain === "ap-south-1")!;
  assert.equal(stats.shipping, null);
  const seg = (await readdir(join(dir, "ap-south-1"))).find((n) => n.endsWith(".seg"))!;
  assert.match(await readFile(join(dir, "ap-south-1", seg), "utf8"), /"region":"ap-south-1"/);
});

test("closing signs each chain and gives the sinks a bounded moment to receive the end", async (t) => {
  const dir = await tempDir(t);
  const { signer: s } = signer();
  const got: SpooledEntry[] = [];
  let up = true;
  const sinkFactory = (): AuditSink => ({
    name: "memory://eu",
    async deliver(entries) {
      if (!up) throw new Error("down");
      got.push(...entries);
    },
  });
  const trail = await AuditTrail.open(options(dir, { sinks: { "eu-central-1": { ...sinkCfg(), lingerMs: 60_000 } }, sinkFactory, checkpoint: { signer: s, intervalMs: 60_000 }, closeDrainMs: 5000 }));
  await trail.append(routedEvent(1));
  await trail.append(routedEvent(2));
  await trail.close();
  // Despite a one-minute linger and checkpoint interval: the records and the final checkpoint arrived.
  assert.deepEqual(got.map((e) => [e.seq, e.kind]), [[0, "record"], [1, "record"], [2, "checkpoint"]]);

  // A sink that stays down delays closing by at most closeDrainMs; the rest stays spooled.
  up = false;
  const again = await AuditTrail.open(options(dir, { sinks: { "eu-central-1": sinkCfg() }, sinkFactory, checkpoint: { signer: s, intervalMs: 60_000 }, closeDrainMs: 300 }));
  await again.append(routedEvent(3));
  const t0 = Date.now();
  await again.close();
  assert.ok(Date.now() - t0 < 3000, `close took ${Date.now() - t0} ms`);
  assert.ok(!got.some((e) => e.seq >= 3));
});

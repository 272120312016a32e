import assert from "node:assert/strict";
import { generateKeyPairSync } from "node:crypto";
import { mkdtemp, readFile, rm, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { describe, it, type TestContext } from "node:test";
import { decodeAuditLine, verifyAuditLines, verifyAuditPath, verifyKeys } from "@enclave/audit";
import { makeTestPki, type TestPki } from "@enclave/audit/testing/pki";
import { startRsyslog } from "@enclave/audit/testing/rsyslog";
import { AuditRecord } from "@enclave/contracts";
import { waitFor } from "@enclave/runtime";
import { defer, startTestRedis, startTestScheduler } from "../testing/harness.js";

const EU = "eu-central-1";
const spec = { model: "org/chat", replicasPerRegion: { [EU]: 1 }, gpusPerReplica: 1, vramPerGpuMiB: 20000 };

async function tempDir(t: TestContext): Promise<string> {
  const dir = await mkdtemp(join(tmpdir(), "enclave-sched-audit-"));
  defer(t, () => rm(dir, { recursive: true, force: true }));
  return dir;
}

async function checkpointKey(dir: string): Promise<{ key: string; publicKey: string }> {
  const pair = generateKeyPairSync("ed25519");
  const key = join(dir, "checkpoint.pem");
  const publicKey = join(dir, "checkpoint.pub.pem");
  await writeFile(key, pair.privateKey.export({ type: "pkcs8", format: "pem" }), { mode: 0o600 });
  await writeFile(publicKey, pair.publicKey.export({ type: "spki", format: "pem" }));
  return { key, publicKey };
}

function syslogSink(pki: TestPki, port: number) {
  return {
    type: "syslog" as const, host: "127.0.0.1", port, serverName: "localhost",
    tls: { ca: pki.ca, cert: pki.client.cert, key: { file: pki.client.key } },
    timeoutMs: 5000, pollMs: 100, lingerMs: 20, backoff: { initialMs: 100, maxMs: 1000 },
  };
}

/** The records (not checkpoints) among stored syslog lines. */
function records(lines: string[]): AuditRecord[] {
  return lines.flatMap((l) => {
    const d = decodeAuditLine(l);
    return d.kind === "entry" && (d.value as { kind?: unknown }).kind !== "checkpoint" ? [AuditRecord.parse(d.value)] : [];
  });
}

describe("operator audit trail", () => {
  it("ships every operator action to the region's syslog sink over mutual TLS, as a chain that verifies with its checkpoint", async (t) => {
    const dir = await tempDir(t);
    const pki = await makeTestPki(join(dir, "pki"));
    const sink = await startRsyslog(join(dir, "rsyslog"), pki);
    defer(t, () => sink.stop());
    const keys = await checkpointKey(dir);
    const redis = await startTestRedis(t);
    const s = await startTestScheduler(t, {
      redisUrl: redis.url,
      nodes: ["eu-1"],
      audit: { emitter: "sched-eu-1", sinks: { [EU]: syslogSink(pki, sink.port) }, checkpoint: { key: { file: keys.key }, intervalMs: 200 } },
    });

    assert.equal((await s.send("PUT", "/v1/deployments/chat", spec)).status, 201);
    assert.equal((await s.send("POST", "/v1/nodes/eu-1/drain", { reason: "maintenance" })).status, 200);
    assert.equal((await s.send("PUT", "/v1/deployments/chat", spec, { token: s.viewerToken })).status, 403);

    // Shipped: the sink holds exactly what the spool holds, ending with a signed checkpoint.
    const spooled = await waitFor(async () => ((await s.auditRecords()).length === 3 ? s.auditRecords() : undefined), { timeoutMs: 5000, what: "three spooled records" });
    const lines = await waitFor(async () => {
      const l = await sink.lines();
      const last = l.length > 0 ? decodeAuditLine(l[l.length - 1]!) : null;
      return records(l).length === 3 && last?.kind === "entry" && (last.value as { kind?: unknown }).kind === "checkpoint" ? l : undefined;
    }, { timeoutMs: 10000, what: "three records and a checkpoint at the sink" });
    const shipped = records(lines);
    assert.deepEqual(shipped, spooled);
    assert.deepEqual(
      shipped.map((r) => [r.emitter, r.chain, r.action, r.principal, r.status, r.nodeId]),
      [
        ["sched-eu-1", EU, "deployment.apply", "bob-operator", 201, null],
        ["sched-eu-1", EU, "node.drain", "bob-operator", 200, "eu-1"],
        ["sched-eu-1", EU, "deployment.apply", "alice-viewer", 403, null],
      ],
    );
    const atSink = verifyAuditLines(lines, { keys: verifyKeys([await readFile(keys.publicKey, "utf8")]), requireSealed: true });
    assert.ok(atSink.ok, JSON.stringify(atSink.problems));
    assert.ok((await verifyAuditPath(s.auditDir!)).ok, "the spool's chain is whole");
  });

  it("refuses operator actions, changing nothing, while the spool's budget is used up", async (t) => {
    const dir = await tempDir(t);
    const redis = await startTestRedis(t);
    // No sink: nothing is ever shipped or deleted, so a small budget fills up.
    const s = await startTestScheduler(t, { redisUrl: redis.url, nodes: ["eu-1"], auditDir: join(dir, "spool"), auditSpool: { segmentBytes: 4096, budgetBytes: 8192, reserveBytesPerRequest: 2048 } });
    let applied = 0;
    let refused: Response | undefined;
    for (let i = 0; i < 50 && refused === undefined; i++) {
      const r = await s.send("PUT", `/v1/deployments/chat-${i}`, spec);
      if (r.status === 201) applied++;
      else refused = r;
    }
    assert.ok(refused, "the budget ran out");
    assert.equal(refused.status, 503);
    assert.match(((await refused.json()) as { error: { message: string } }).error.message, /audit spool is full.*nothing was changed/);
    const names = ((await (await s.get("/v1/deployments")).json()) as { deployments: { name: string }[] }).deployments.map((d) => d.name);
    assert.equal(names.length, applied, "the refused deployment was not created");
    assert.equal((await s.auditRecords()).length, applied, "one record per applied action, none for the refused one");
  });
});

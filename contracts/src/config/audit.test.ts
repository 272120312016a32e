import assert from "node:assert/strict";
import { test } from "node:test";
import { ConfigError, GatewayConfig, parseConfig } from "../index.js";

const hash = "a".repeat(64);
const tls = { ca: "/etc/enclave/audit/ca.pem", cert: "/etc/enclave/audit/gw.pem", key: { file: "/etc/enclave/audit/gw.key" } };

function gateway(audit: unknown, tenants: unknown[] = [{ id: "acme", regions: ["eu-central-1"], apiKeys: [{ id: "k1", sha256: hash }] }]) {
  return { homeRegion: "eu-central-1", listen: { port: 8080, plaintext: true }, staticRoutes: [{ model: "m", region: "eu-central-1", jurisdiction: "EU", url: "http://127.0.0.1:9" }], tenants, audit };
}

function problems(data: unknown): { path: string; message: string }[] {
  try {
    parseConfig(GatewayConfig, data, "gw.yaml");
  } catch (e) {
    assert.ok(e instanceof ConfigError, String(e));
    return [...e.problems];
  }
  return [];
}

test("a spool with a syslog sink per region gets its defaults", () => {
  const c = parseConfig(GatewayConfig, gateway({ spool: { dir: "/var/spool/enclave-audit" }, sinks: { "eu-central-1": { type: "syslog", host: "logs.eu", tls } } }), "gw.yaml");
  assert.deepEqual(c.audit.spool, {
    dir: "/var/spool/enclave-audit", segmentBytes: 16 * 1024 * 1024, budgetBytes: 1024 * 1024 * 1024, onBudgetExhausted: "fail-closed",
    reserveBytesPerRequest: 8192, acknowledge: "durable", groupCommit: { maxDelayMs: 2, maxBytes: 1024 * 1024 },
  });
  const sink = c.audit.sinks["eu-central-1"]!;
  assert.equal(sink.type, "syslog");
  assert.equal(sink.type === "syslog" && sink.port, 6514);
  assert.equal(sink.type === "syslog" && sink.appName, "enclave");
  assert.deepEqual(sink.backoff, { initialMs: 500, maxMs: 30_000 });
  assert.equal(c.audit.maxRecordBytes, 60_000);
  assert.equal(c.tenants[0]!.auditContent, "none");
});

test("the deprecated single file still validates, and exactly one of file and spool is set", () => {
  assert.deepEqual(problems(gateway({ file: "/var/lib/enclave/audit.jsonl" })), []);
  assert.deepEqual(problems(gateway({})), [{ path: "audit.spool", message: "set exactly one of audit.spool (durable, shipped) or audit.file (deprecated local file)" }]);
  assert.equal(problems(gateway({ file: "/a", spool: { dir: "/b" } }))[0]?.path, "audit.spool");
  assert.deepEqual(problems(gateway({ file: "/a", checkpoint: { key: { file: "/k" } } })).map((p) => p.path), ["audit.checkpoint"]);
});

test("every region a record can be written for needs a sink, once any sink is configured", () => {
  const tenants = [
    { id: "a", regions: ["eu-central-1", "eu-west-1"], apiKeys: [] },
    { id: "b", regions: ["us-east-1"], apiKeys: [] },
  ];
  const ps = problems(gateway({ spool: { dir: "/s" }, sinks: { "eu-central-1": { type: "syslog", host: "l", tls } } }, tenants));
  assert.deepEqual(ps, [{ path: "audit.sinks", message: "no sink for region eu-west-1, us-east-1: records of requests served there would never leave the spool" }]);
  // No sinks at all: a local spool (records stay on this host).
  assert.deepEqual(problems(gateway({ spool: { dir: "/s" } }, tenants)), []);
});

test("encrypted content needs the content key; sinks, budgets and keys are checked", () => {
  const enc = [{ id: "acme", regions: ["eu-central-1"], apiKeys: [], auditContent: "encrypted" }];
  assert.deepEqual(problems(gateway({ spool: { dir: "/s" } }, enc)), [{ path: "tenants[0].auditContent", message: "encrypted needs audit.content (key and keyId)" }]);
  assert.deepEqual(problems(gateway({ spool: { dir: "/s" }, content: { keyId: "k2025", key: { file: "/etc/enclave/audit-content.key" } } }, enc)), []);
  assert.equal(problems(gateway({ spool: { dir: "/s", segmentBytes: 1 << 20, budgetBytes: 1 << 20 } }))[0]?.path, "audit.spool.budgetBytes");
  assert.equal(problems(gateway({ spool: { dir: "/s" }, sinks: { "eu-central-1": { type: "kafka" } } }))[0]?.path, "audit.sinks.eu-central-1.type");
  assert.equal(problems(gateway({ spool: { dir: "/s" }, sinks: { "EU Central": { type: "http", url: "http://x" } } }))[0]?.path.startsWith("audit.sinks"), true);
  assert.equal(problems(gateway({ spool: { dir: "/s" }, sinks: { "eu-central-1": { type: "syslog", host: "l", tls: { ...tls, key: "inline-secret" } } } }))[0]?.path, "audit.sinks.eu-central-1.tls.key");
  assert.equal(problems(gateway({ spool: { dir: "/s" }, sinks: { "eu-central-1": { type: "http", url: "ftp://x" } } }))[0]?.path, "audit.sinks.eu-central-1.url");
  assert.equal(problems(gateway({ spool: { dir: "/s", onBudgetExhausted: "drop" } }))[0]?.path, "audit.spool.onBudgetExhausted");
});

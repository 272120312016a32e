import assert from "node:assert/strict";
import { test } from "node:test";
import { ConfigError, SchedulerConfig, parseConfigText } from "../index.js";

const a = "a".repeat(64);
const b = "b".repeat(64);

function problems(text: string): { path: string; message: string }[] {
  try {
    parseConfigText(SchedulerConfig, text, "s.yaml");
  } catch (e) {
    assert.ok(e instanceof ConfigError);
    return [...e.problems];
  }
  assert.fail("expected the config to be rejected");
}

test("a scheduler config gets placement defaults; audit and TLS stay off unless set", () => {
  const c = parseConfigText(SchedulerConfig, `auth: { operators: [{ id: ops, tokenSha256: "${a}", role: operator }] }\n`, "s.yaml");
  assert.deepEqual(c.placement, { strategy: "binpack", startTimeoutMs: 180000, failureBackoff: { initialMs: 10000, maxMs: 300000 } });
  assert.equal(c.audit, undefined);
  assert.equal(c.tls, undefined);
  const full = parseConfigText(
    SchedulerConfig,
    `tls: { certFile: /etc/enclave/s.pem, keyFile: /etc/enclave/s.key }\naudit: { homeRegion: eu-central-1, spool: { dir: /var/spool/enclave-audit } }\nplacement: { strategy: spread }\nauth: {}\n`,
    "s.yaml",
  );
  assert.deepEqual(
    [full.audit?.emitter, full.audit?.spool.dir, full.audit?.spool.onBudgetExhausted, full.audit?.sinks, full.placement.strategy, full.tls?.certFile],
    ["scheduler", "/var/spool/enclave-audit", "fail-closed", {}, "spread", "/etc/enclave/s.pem"],
  );
});

const SINK = `{ type: syslog, host: 10.10.3.10, tls: { ca: /etc/enclave/ca.pem, cert: /etc/enclave/s.pem, key: { file: /etc/enclave/s.key } } }`;

test("the scheduler's audit is a spool with a home region; the old single file is refused with a pointer to what replaced it", () => {
  const old = problems(`auth: {}\naudit: { file: /var/lib/enclave/audit/scheduler.jsonl, homeRegion: eu-central-1, spool: { dir: /s } }\n`);
  assert.deepEqual(old.map((p) => p.path), ["audit.file"]);
  assert.match(old[0]!.message, /audit\.spool .*audit\.sinks/);
  const bare = problems(`auth: {}\naudit: { emitter: sched-1 }\n`);
  assert.deepEqual(bare.map((p) => p.path).sort(), ["audit.homeRegion", "audit.spool"]);
});

test("with sinks, the home region and every region of the config's deployments need one", () => {
  const deployments = `deployments:\n  - { name: d, model: m, replicasPerRegion: { eu-central-1: 1, us-east-1: 1 } }\n`;
  const missing = problems(`auth: {}\naudit: { homeRegion: eu-west-1, spool: { dir: /s }, sinks: { eu-central-1: ${SINK} } }\n${deployments}`);
  assert.deepEqual(missing.map((p) => [p.path, p.message]), [["audit.sinks", "no sink for region eu-west-1, us-east-1: records of operator actions there would never leave the spool"]]);
  const ok = parseConfigText(SchedulerConfig, `auth: {}\naudit: { homeRegion: eu-central-1, spool: { dir: /s }, sinks: { eu-central-1: ${SINK}, us-east-1: ${SINK} } }\n${deployments}`, "s.yaml");
  assert.deepEqual(Object.keys(ok.audit!.sinks), ["eu-central-1", "us-east-1"]);
  // Without sinks the records stay in the spool (a local stack): nothing to cover.
  assert.equal(parseConfigText(SchedulerConfig, `auth: {}\naudit: { homeRegion: eu-west-1, spool: { dir: /s } }\n${deployments}`, "s.yaml").audit?.homeRegion, "eu-west-1");
});

test("one token digest stands for one principal; roles are viewer or operator", () => {
  const dup = problems(`auth:\n  nodes: [{ id: n1, tokenSha256: "${a}" }]\n  operators: [{ id: ops, tokenSha256: "${a}", role: operator }, { id: v, tokenSha256: "${b}", role: viewer }]\n`);
  assert.deepEqual(dup.map((p) => p.path), ["auth.operators[0].tokenSha256"]);
  assert.match(dup[0]!.message, /already listed/);
  const role = problems(`auth:\n  operators: [{ id: v, tokenSha256: "${b}", role: admin }]\n`);
  assert.deepEqual(role.map((p) => p.path), ["auth.operators[0].role"]);
});

test("deployment selectors and allowDegraded are validated, with defaults", () => {
  const c = parseConfigText(
    SchedulerConfig,
    `auth: {}\ndeployments:\n  - { name: d, model: m, replicasPerRegion: { eu-central-1: 1 }, selectors: { nodes: ["gpu-eu-*"], gpuModels: [H100] } }\n`,
    "s.yaml",
  );
  assert.deepEqual([c.deployments[0]?.allowDegraded, c.deployments[0]?.selectors?.nodes], [false, ["gpu-eu-*"]]);
  const bad = problems(`auth: {}\ndeployments:\n  - { name: d, model: m, replicasPerRegion: { eu-central-1: 1 }, selectors: { nodes: ["bad node"], colour: x }, allowDegraded: maybe }\n`);
  const paths = bad.map((p) => p.path);
  assert.ok(paths.includes("deployments[0].selectors.nodes[0]"), paths.join(","));
  assert.ok(paths.includes("deployments[0].allowDegraded"), paths.join(","));
  assert.ok(paths.includes("deployments[0].selectors"), paths.join(","));
});

/**
 * The Ansible roles (ansible/), proven by applying them: ansible-lint (production profile,
 * offline) and --syntax-check, then every role applied for real to a debootstrap'ed Debian root
 * filesystem through the community.general.chroot connection, a second apply that must change
 * nothing, and the produced units, configs, rulesets and services checked with the tools that
 * read them. The work is done by ansible/ci/chroot-e2e.sh, one step per subtest; this file runs
 * the steps and asserts on what they report.
 *
 * Needs root and the Debian packages of `scripts/setup.sh --test`; a missing tool fails the
 * first subtest (nothing is skipped). The rootfs tarball is cached in $ENCLAVE_TEST_CACHE
 * (default /var/cache/enclave-test) between runs; the chroot itself is deleted afterwards.
 */
import assert from "node:assert/strict";
import { spawn } from "node:child_process";
import { existsSync, mkdtempSync, readFileSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import { test, type TestContext } from "node:test";

const REPO = fileURLToPath(new URL("../../../", import.meta.url));
const SCRIPT = join(REPO, "ansible/ci/chroot-e2e.sh");

interface StepResult {
  code: number | null;
  stdout: string;
  stderr: string;
  ms: number;
}

function runStep(step: string, work: string): Promise<StepResult> {
  const started = Date.now();
  return new Promise((resolve, reject) => {
    const child = spawn("bash", [SCRIPT, step], {
      cwd: REPO,
      env: { ...process.env, ENCLAVE_ANSIBLE_WORK: work },
      stdio: ["ignore", "pipe", "pipe"],
    });
    let stdout = "";
    let stderr = "";
    child.stdout.setEncoding("utf8").on("data", (d: string) => (stdout += d));
    child.stderr.setEncoding("utf8").on("data", (d: string) => (stderr += d));
    child.on("error", reject);
    child.on("close", (code) => resolve({ code, stdout, stderr, ms: Date.now() - started }));
  });
}

/** The script's TIMING lines, printed as test diagnostics. */
function printTimings(step: string, r: StepResult): void {
  const timings = [...r.stdout.matchAll(/^TIMING (\S+) (\S+)$/gm)].map((m) => `${m[1]} ${m[2]}`);
  console.log(`# ${step}: ${(r.ms / 1000).toFixed(1)}s${timings.length ? ` (${timings.join(", ")})` : ""}`);
}

function explain(step: string, r: StepResult): string {
  return `chroot-e2e.sh ${step} exited ${r.code}\n--- stdout\n${r.stdout.slice(-6000)}\n--- stderr\n${r.stderr.slice(-6000)}`;
}

interface Recap {
  ok: number;
  changed: number;
  unreachable: number;
  failed: number;
}
function recaps(stdout: string, run: string): Map<string, Recap> {
  const out = new Map<string, Recap>();
  for (const m of stdout.matchAll(new RegExp(`^RECAP ${run} (\\S+)\\s*: (.*)$`, "gm"))) {
    const n = (k: string) => Number(new RegExp(`${k}=(\\d+)`).exec(m[2]!)?.[1] ?? NaN);
    out.set(m[1]!, { ok: n("ok"), changed: n("changed"), unreachable: n("unreachable"), failed: n("failed") });
  }
  return out;
}

test("Ansible roles: lint, real apply to a Debian chroot, idempotence, produced files", { timeout: 30 * 60_000 }, async (t: TestContext) => {
  // The chroot (~600 MB) goes to /var/tmp rather than a possibly RAM-backed /tmp.
  const work = mkdtempSync(join(existsSync("/var/tmp") ? "/var/tmp" : tmpdir(), "enclave-ansible-"));
  console.log(`# work dir ${work}, rootfs cache ${process.env.ENCLAVE_TEST_CACHE ?? "/var/cache/enclave-test"}`);
  t.after(async () => {
    // Deletes the chroot (refusing if anything is mounted below it); the cached tarball stays.
    const r = await runStep("clean", work);
    if (r.code === 0) rmSync(work, { recursive: true, force: true });
    else console.log(`# cleanup failed, ${work} left in place:\n${r.stdout}${r.stderr}`);
  });

  const total = Date.now();
  let failedStep: string | undefined;
  /** Runs a step as a subtest; once one fails, the later ones fail at once, naming it. */
  async function step(name: string, script: string, check: (r: StepResult) => void): Promise<void> {
    await t.test(name, async () => {
      assert.equal(failedStep, undefined, `not run: the earlier step "${failedStep}" failed`);
      const r = await runStep(script, work);
      printTimings(script, r);
      try {
        assert.equal(r.code, 0, explain(script, r));
        check(r);
      } catch (e) {
        failedStep = name;
        throw e;
      }
    });
  }

  await step("the tools are installed (scripts/setup.sh --test)", "tools", (r) => {
    assert.match(r.stdout, /^TOOLS ok$/m);
  });

  await step("ansible-lint (production profile, offline) and ansible-playbook --syntax-check pass", "lint", (r) => {
    assert.match(r.stdout, /^LINT ok$/m);
    for (const pb of ["site.yml", "playbooks/drain-node.yml", "playbooks/render-router-ruleset.yml"]) {
      assert.match(r.stdout, new RegExp(`^TIMING syntax-check:${pb.replace(".", "\\.")} `, "m"), `${pb} was syntax-checked`);
    }
  });

  await step("a throwaway PKI is made for the TLS files", "pki", (r) => assert.match(r.stdout, /^PKI ok /m));
  await step("the release archive is built (scripts/release.sh)", "release", (r) => {
    const m = /^RELEASE ok (\S+\/enclave-[^/]+\.tar\.gz)$/m.exec(r.stdout);
    assert.ok(m && existsSync(m[1]!), `a release archive is reported and exists:\n${r.stdout}`);
  });

  await step("a Debian bookworm rootfs is ready (debootstrap, cached between runs)", "rootfs", (r) => {
    assert.match(r.stdout, /^rootfs cache: (warm|cold)/m);
    assert.match(r.stdout, /^ROOTFS ok /m);
    console.log(`# ${/^rootfs cache: \S+/m.exec(r.stdout)?.[0]}`);
  });

  await step("every role applies to the chroot, and a second apply changes nothing", "apply", (r) => {
    const first = recaps(r.stdout, "apply-1").get("enclave-ci");
    const second = recaps(r.stdout, "apply-2").get("enclave-ci");
    assert.ok(first && second, `both applies report a recap for enclave-ci:\n${r.stdout}`);
    assert.deepEqual([first.failed, first.unreachable], [0, 0], "first apply: nothing failed or unreachable");
    assert.ok(first.changed > 0, "the first apply changed the fresh rootfs");
    assert.deepEqual([second.failed, second.unreachable], [0, 0], "second apply: nothing failed or unreachable");
    assert.equal(second.changed, 0, "the second apply reports zero changes (idempotent)");
  });

  await step("the produced units, configs, rulesets and services check out", "verify", (r) => {
    const results = new Map([...r.stdout.matchAll(/^VERIFY (ok|FAIL) (.+)$/gm)].map((m) => [m[2]!, m[1]!]));
    const expected = [
      ...["enclave-gateway", "enclave-scheduler", "enclave-agent", "redis-server"].map((u) => `systemd-analyze verify ${u}.service`),
      ...["enclave-gateway", "enclave-scheduler", "enclave-agent"].map((u) => `hardened ${u}.service`),
      "the play's unit validator rejects a broken unit",
      "the installed release loads every runtime workspace",
      ...["gateway", "scheduler", "agent"].map((k) => `enclave config check ${k} /etc/enclave/${k}.yaml`),
      "enclave config check rejects a broken agent config",
      "nft -c /etc/nftables.conf",
      "nft -c rejects a broken ruleset",
      "router ruleset loads into a network namespace",
      "the gateway's API keys file parses",
      "the scheduler's audit ships to the region's sink; its nodes are pinned",
      "a GPU server's agent config and unit (nvidia-smi, Docker, BMC) render and check out",
      "rsyslogd -N1 (whole rsyslog config)",
      "file modes of configs, secrets and keys",
      "no plaintext secret in configs or ACLs",
      "redis: persistence and ACLs with BullMQ",
      "audit receiver: mutual TLS, per-region file",
    ];
    for (const name of expected) assert.equal(results.get(name), "ok", `check "${name}" ran and passed`);
    const router = [...results.keys()].find((k) => k.startsWith("router ruleset rendered and nft -c"));
    assert.ok(router && results.get(router) === "ok", "the router ruleset was rendered and passed nft -c");
    assert.ok(![...results.values()].includes("FAIL"));
    // Each sub-check of the Redis and audit receiver runs (JSON lines) passed.
    const subchecks = [...r.stdout.matchAll(/^ {4}(\{"check".*\})$/gm)].map((m) => JSON.parse(m[1]!) as { check: string; ok: boolean });
    assert.ok(subchecks.length >= 15, `the Redis and audit checks reported their sub-checks (${subchecks.length})`);
    for (const c of subchecks) assert.ok(c.ok, `sub-check "${c.check}"`);
    assert.match(r.stdout, /^VERIFY done$/m);
  });

  await t.test("the router ruleset is the flow matrix of DESIGN §1, default deny", () => {
    assert.equal(failedStep, undefined, `not run: the earlier step "${failedStep}" failed`);
    const nft = readFileSync(join(work, "router-eu-central-1.nft"), "utf8");
    const forward = /chain forward \{([\s\S]*?)\n {2}\}/.exec(nft)?.[1] ?? "";
    assert.match(forward, /policy drop;/);
    // The allowed rows between segments, each with its ports; the intra-segment rows stay out.
    const allowed: [string, RegExp][] = [
      ["clients-gateway", /ip saddr != @all_segments_v4 ip daddr @seg_dmz_v4 tcp dport \{ 8443 \} accept/],
      ["gateway-engines", /ip saddr @seg_dmz_v4 ip daddr @zone_inference_gpu_nodes_v4 tcp dport \{ 20000-20999 \} accept/],
      ["gateway-scheduler", /ip saddr @seg_dmz_v4 ip daddr @zone_inference_schedulers_v4 tcp dport \{ 8090 \} accept/],
      ["gateway-audit", /ip saddr @seg_dmz_v4 ip daddr @seg_logging_v4 tcp dport \{ 6514 \} accept/],
      ["scheduler-audit", /ip saddr @zone_inference_schedulers_v4 ip daddr @seg_logging_v4 tcp dport \{ 6514 \} accept/],
      ["prometheus-agents", /ip saddr @seg_logging_v4 ip daddr @zone_inference_gpu_nodes_v4 tcp dport \{ 9400 \} accept/],
      ["prometheus-scheduler", /ip saddr @seg_logging_v4 ip daddr @zone_inference_schedulers_v4 tcp dport \{ 9401 \} accept/],
      ["prometheus-gateways", /ip saddr @seg_logging_v4 ip daddr @seg_dmz_v4 tcp dport \{ 8443 \} accept/],
    ];
    for (const [name, rule] of allowed) {
      const line = forward.split("\n").find((l) => l.includes(`comment "${name}`));
      assert.ok(line, `forward has the ${name} row`);
      assert.match(line, rule);
    }
    for (const name of ["agent-scheduler", "agent-redis", "scheduler-redis"]) assert.ok(!forward.includes(`"${name}`), `${name} is intra-segment`);
    // The "no" rows, counted, after every accept.
    const denyAt = forward.indexOf("counter name deny_inference_to_dmz drop");
    assert.ok(denyAt > forward.lastIndexOf(" accept"), "the deny rows come after the allowed flows");
    assert.match(forward, /ip saddr @zone_inference_gpu_nodes_v4 ip daddr != @seg_inference_v4 counter name deny_gpu_nodes_egress drop/);
    assert.match(nft, /set zone_inference_gpu_nodes_v4 \{[^}]*elements = \{ 10\.10\.2\.21, 10\.10\.2\.22 \}/);
    assert.match(nft, /set zone_inference_schedulers_v4 \{[^}]*elements = \{ 10\.10\.2\.10 \}/);
  });

  console.log(`# ansible suite total: ${((Date.now() - total) / 1000).toFixed(1)}s`);
});

import assert from "node:assert/strict";
import { spawn } from "node:child_process";
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import { describe, it, type TestContext } from "node:test";
import { CapacityReport, ConfigError, DeploymentStatusList, NodeList } from "@enclave/contracts";
import { node } from "@enclave/scheduler/testing/fixtures";
import { defer, startTestRedis, startTestScheduler } from "@enclave/scheduler/testing/harness";
import { makeTlsFiles } from "@enclave/scheduler/testing/tls-files";
import { UsageError } from "../usage.js";
import { readDeploymentFile } from "./fleet.js";
import { capacityTable } from "./format/capacity-table.js";
import { deploymentsTable } from "./format/deployments-table.js";
import { nodesTable } from "./format/nodes-table.js";
import { callScheduler } from "./scheduler-client/client.js";
import { connectionFrom } from "./scheduler-client/connection.js";

const CLI = fileURLToPath(new URL("../main.js", import.meta.url));
const EU = "eu-central-1";

function tempDir(t: TestContext): string {
  const dir = mkdtempSync(join(tmpdir(), "enclave-cli-"));
  defer(t, () => rmSync(dir, { recursive: true, force: true }));
  return dir;
}

/** Runs the real `enclave` binary; resolves with its exit code and output. */
function enclave(args: string[], env: NodeJS.ProcessEnv): Promise<{ code: number | null; out: string; err: string }> {
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, [CLI, ...args], { env: { PATH: process.env["PATH"], ...env }, stdio: ["ignore", "pipe", "pipe"] });
    let out = "";
    let err = "";
    child.stdout.on("data", (b: Buffer) => (out += b.toString()));
    child.stderr.on("data", (b: Buffer) => (err += b.toString()));
    const timer = setTimeout(() => child.kill("SIGKILL"), 20000);
    child.on("error", reject);
    child.on("exit", (code) => {
      clearTimeout(timer);
      resolve({ code, out, err });
    });
  });
}

describe("operator command connection", () => {
  it("takes flags over the environment, reads the token from a file or ENCLAVE_TOKEN, and refuses what it cannot use", (t) => {
    const dir = tempDir(t);
    writeFileSync(join(dir, "tok"), "  file-token\n");
    writeFileSync(join(dir, "empty"), "\n");
    const env = { ENCLAVE_SCHEDULER_URL: "http://env:1/", ENCLAVE_TOKEN: "env-token" };
    assert.deepEqual(connectionFrom({}, env), { url: "http://env:1", token: "env-token" });
    assert.deepEqual(connectionFrom({ scheduler: "https://flag:2", "token-file": join(dir, "tok") }, env), { url: "https://flag:2", token: "file-token" });
    assert.equal(connectionFrom({}, { ...env, ENCLAVE_TOKEN_FILE: join(dir, "tok") }).token, "file-token");
    assert.throws(() => connectionFrom({}, { ENCLAVE_TOKEN: "x" }), (e: Error) => e instanceof UsageError && /no scheduler/.test(e.message));
    assert.throws(() => connectionFrom({ scheduler: "http://a:1" }, {}), /no operator token/);
    assert.throws(() => connectionFrom({ scheduler: "ftp://a" }, env), /http:\/\/ or https:\/\//);
    assert.throws(() => connectionFrom({ scheduler: "http://u:secret@a:1" }, env), /must not carry credentials/);
    assert.throws(() => connectionFrom({ "token-file": join(dir, "empty") }, env), /is empty/);
    assert.throws(() => connectionFrom({ "ca-file": join(dir, "nope.pem") }, env), /CA file .*nope\.pem: cannot read \(ENOENT\)/);
  });

  it("reads deployment files: one, a list, or deployments: [...]; errors name the file and the path", (t) => {
    const dir = tempDir(t);
    const f = (name: string, text: string) => {
      writeFileSync(join(dir, name), text);
      return join(dir, name);
    };
    assert.deepEqual(readDeploymentFile(f("one.yaml", `name: a\nmodel: org/a\nreplicasPerRegion: { ${EU}: 1 }\n`)).map((d) => d.name), ["a"]);
    assert.deepEqual(readDeploymentFile(f("list.yaml", `- { name: a, model: m, replicasPerRegion: { ${EU}: 1 } }\n- { name: b, model: m, replicasPerRegion: { ${EU}: 2 } }\n`)).map((d) => d.name), ["a", "b"]);
    assert.deepEqual(readDeploymentFile(f("cfg.yaml", `deployments:\n  - { name: c, model: m, replicasPerRegion: { ${EU}: 1 } }\n`)).map((d) => d.name), ["c"]);
    assert.throws(
      () => readDeploymentFile(f("bad.yaml", `- { name: a, model: m, replicasPerRegion: { ${EU}: 1 } }\n- { name: a, model: m, gpusPerReplica: 0, replicasPerRegion: { ${EU}: 1 } }\n`)),
      (e: unknown) => e instanceof ConfigError && /bad\.yaml/.test(e.message) && e.problems.some((p) => p.path === "[1].gpusPerReplica") && e.problems.some((p) => p.path === "[1].name"),
    );
  });
});

describe("operator command output", () => {
  it("tables nodes, deployments and capacity", () => {
    const nodes = NodeList.parse({
      nodes: [
        {
          ...node("eu-1", EU, "EU", { gpus: 2 }),
          receivedAt: 1,
          state: "draining",
          cordon: { since: 1, by: "bob", reason: "BIOS" },
          replicas: ["chat/eu-central-1/0", "chat/eu-central-1/1", "x/eu-central-1/0", "y/eu-central-1/0"],
        },
      ],
    }).nodes;
    const text = nodesTable(nodes, { gpus: true });
    assert.match(text, /^NODE\s+REGION\s+JURIS\s+STATE\s+GPUS\s+FREE VRAM\s+REPLICAS\n/);
    assert.match(text, /eu-1\s+eu-central-1\s+EU\s+draining \(by bob: BIOS\)\s+2: 2 healthy\s+159 GiB\s+4: chat\/eu-central-1\/0, chat\/eu-central-1\/1, x\/eu-central-1\/0, \+1\n/);
    assert.match(text, /  gpu 1\s+NVIDIA H100 80GB HBM3\s+healthy\s+GPU-eu-1-1\s+79\.6 GiB/);
    assert.equal(nodesTable([]), "no live nodes\n");

    const list = DeploymentStatusList.parse({
      updatedAt: 0,
      deployments: [{ name: "chat", model: "org/chat", generation: 4, regions: [{ region: EU, desired: 2, ready: 1, state: "degraded", reason: "1/2 replicas unplaced: …" }] }],
    });
    assert.match(deploymentsTable(list), /chat\s+org\/chat\s+4\s+eu-central-1\s+1\/2\s+degraded\s+1\/2 replicas unplaced: …\n\(no reconcile pass yet\)\n$/);

    const cap = CapacityReport.parse({
      updatedAt: 0,
      regions: [{ region: EU, nodes: 3, schedulableNodes: 2, gpus: { total: 24, healthy: 16, free: 5 }, nPlusOne: { ok: false, largestNode: "eu-1", reason: "losing eu-1, …" } }],
    });
    assert.match(capacityTable(cap), /eu-central-1\s+2\/3\s+24\s+16\s+5\s+NO\s+eu-1\s+losing eu-1, …/);
  });
});

describe("operator commands against a scheduler", () => {
  it("deploy, list, nodes, drain, uncordon and capacity over TLS with a CA file; viewers may only read", async (t) => {
    const dir = tempDir(t);
    const tls = makeTlsFiles(dir);
    const redis = await startTestRedis(t);
    const s = await startTestScheduler(t, { redisUrl: redis.url, nodes: ["eu-1"], nodeTtlMs: 120_000, tls: { certFile: tls.certFile, keyFile: tls.keyFile } });
    const tokenFile = join(dir, "op.token");
    writeFileSync(tokenFile, s.operatorToken + "\n");
    const env = { ENCLAVE_SCHEDULER_URL: s.url, ENCLAVE_TOKEN_FILE: tokenFile, ENCLAVE_CA_FILE: tls.caFile };
    // fetch cannot take a CA file: the node's heartbeat goes through the CLI's own client.
    await callScheduler({ url: s.url, token: s.nodeTokens.get("eu-1")!, ca: readFileSync(tls.caFile) }, "POST", "/v1/nodes/eu-1/heartbeat", node("eu-1", EU, "EU", { gpus: 2 }));

    const file = join(dir, "chat.yaml");
    writeFileSync(file, `name: chat\nmodel: org/chat\nreplicasPerRegion: { ${EU}: 1 }\n`);
    const applied = await enclave(["deploy", "apply", "-f", file], env);
    assert.deepEqual([applied.code, applied.err], [0, ""]);
    assert.match(applied.out, /^deployment chat created \(generation \d+\)\n$/);

    const listed = await enclave(["deploy", "list", "--json"], env);
    assert.equal(listed.code, 0);
    assert.deepEqual(DeploymentStatusList.parse(JSON.parse(listed.out)).deployments.map((d) => d.name), ["chat"]);

    const exported = await enclave(["deploy", "export"], env);
    assert.equal(exported.code, 0);
    writeFileSync(join(dir, "backup.json"), exported.out);
    assert.deepEqual(readDeploymentFile(join(dir, "backup.json")).map((d) => [d.name, d.model]), [["chat", "org/chat"]], "an export reads back as a deployment file");

    const drained = await enclave(["drain", "eu-1", "--reason", "BIOS update"], env);
    assert.deepEqual([drained.code, drained.out.startsWith("node eu-1 cordoned")], [0, true]);
    const nodes = await enclave(["nodes"], env);
    assert.equal(nodes.code, 0);
    assert.match(nodes.out, /eu-1\s+eu-central-1\s+EU\s+(draining|cordoned) \(by bob-operator: BIOS update\)\s+2: 2 healthy/);
    assert.match((await enclave(["uncordon", "eu-1"], env)).out, /node eu-1 uncordoned/);

    const cap = await enclave(["capacity", "--json"], env);
    assert.ok(cap.code === 0 || cap.code === 3, cap.err);
    CapacityReport.parse(JSON.parse(cap.out));

    const viewerEnv = { ...env, ENCLAVE_TOKEN_FILE: "", ENCLAVE_TOKEN: s.viewerToken };
    const refused = await enclave(["deploy", "delete", "chat"], viewerEnv);
    assert.deepEqual([refused.code, refused.err], [1, "enclave: a viewer token may only read; this action needs an operator token (403 forbidden)\n"]);

    const untrusted = await enclave(["nodes"], { ...env, ENCLAVE_CA_FILE: "" });
    assert.equal(untrusted.code, 1);
    assert.match(untrusted.err, /cannot reach the scheduler at https:\/\/127\.0\.0\.1:\d+: .*(self[- ]signed|certificate)/i);

    const bad = await enclave(["deploy", "apply", "-f", join(dir, "missing.yaml")], env);
    assert.deepEqual([bad.code, /missing\.yaml/.test(bad.err)], [2, true]);
    assert.equal((await enclave(["drain"], env)).code, 2);
    assert.match((await enclave(["deploy", "delete", "nope"], env)).err, /no deployment "nope" \(404 not_found\)/);
    assert.match((await enclave(["deploy", "delete", "chat"], env)).out, /deployment chat deleted/);
  });
});

import assert from "node:assert/strict";
import { mkdtempSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { test } from "node:test";
import { AgentConfig, ConfigError, GatewayConfig, SchedulerConfig, loadConfigFile, parseConfigText } from "../index.js";

const hash = "a".repeat(64);

function problems(fn: () => unknown): { path: string; message: string }[] {
  try {
    fn();
  } catch (e) {
    assert.ok(e instanceof ConfigError, `expected ConfigError, got ${String(e)}`);
    return [...e.problems];
  }
  assert.fail("expected the config to be rejected");
}

test("a valid gateway config gets its defaults", () => {
  const c = parseConfigText(
    GatewayConfig,
    `homeRegion: eu-central-1
listen: { port: 8080, plaintext: true }
scheduler: { url: "http://127.0.0.1:8090", token: { file: /etc/enclave/gw.token } }
tenants:
  - id: acme
    regions: [eu-central-1]
    apiKeys: [{ id: k1, sha256: "${hash}" }]
audit: { file: /var/lib/enclave/audit.jsonl }
`,
    "gw.yaml",
  );
  assert.equal(c.listen.port, 8080);
  assert.equal(c.proxy.maxRetries, 2);
  assert.equal(c.tenants[0]?.regions[0], "eu-central-1");
});

test("an error names the file, the path inside it and what was expected", () => {
  const ps = problems(() =>
    parseConfigText(
      GatewayConfig,
      `homeRegion: eu-central-1
scheduler: { url: "http://127.0.0.1:8090", token: { file: /x } }
tenants:
  - id: acme
    regions: []
    apiKeys: [{ id: k1, sha256: "not-a-hash" }]
audit: { file: /x }
`,
      "gw.yaml",
    ),
  );
  const paths = ps.map((p) => p.path);
  assert.ok(paths.includes("tenants[0].regions"), paths.join(","));
  assert.ok(paths.includes("tenants[0].apiKeys[0].sha256"), paths.join(","));
  const sha = ps.find((p) => p.path === "tenants[0].apiKeys[0].sha256");
  assert.match(sha!.message, /SHA-256/);
  try {
    parseConfigText(GatewayConfig, "homeRegion: 1", "gw.yaml");
  } catch (e) {
    assert.match(String((e as Error).message), /^invalid config gw\.yaml:/);
  }
});

test("unknown keys are refused, so a typo never silently falls back to a default", () => {
  const ps = problems(() =>
    parseConfigText(
      AgentConfig,
      `nodeId: n1
region: eu-central-1
jurisdiction: EU
scheduler: { url: "http://127.0.0.1:1", token: { env: NODE_TOKEN } }
gpus: { source: sim, count: 2 }
engines: { driver: process, startupTimeOutMs: 5 }
`,
      "agent.yaml",
    ),
  );
  assert.deepEqual(ps.map((p) => p.path), ["engines"]);
  assert.match(ps[0]!.message, /startupTimeOutMs/);
});

test("the docker engine driver: defaults, and bad values named by path", () => {
  const base = `nodeId: n1
region: eu-central-1
jurisdiction: EU
scheduler: { url: "http://127.0.0.1:1", token: { env: NODE_TOKEN } }
gpus: { source: sim }
`;
  const c = parseConfigText(AgentConfig, `${base}engines: { driver: docker, docker: { images: { vllm: "registry.internal:5000/vllm/vllm-openai:v0.9.2" } } }\n`, "agent.yaml");
  assert.equal(c.engines.docker.socketPath, "/var/run/docker.sock");
  assert.deepEqual(c.engines.docker.portRange, { from: 20000, to: 20999 });
  assert.deepEqual(c.engines.docker.modelCache, { hostPath: "/var/lib/enclave/models", containerPath: "/root/.cache/huggingface" });
  assert.deepEqual(c.engines.docker.profiles, { vllm: "vllm", sglang: "sglang" });
  assert.equal(c.engines.docker.images.vllm, "registry.internal:5000/vllm/vllm-openai:v0.9.2");
  assert.equal(c.engines.docker.registry, undefined, "no registry unless configured: nothing is pulled");
  assert.equal(parseConfigText(AgentConfig, `${base}engines: { driver: process }\n`, "agent.yaml").engines.docker.network, "bridge", "process configs still validate");
  const ps = problems(() =>
    parseConfigText(AgentConfig, `${base}engines: { driver: docker, docker: { portRange: { from: 30000, to: 20000 }, registry: { host: "https://hub" }, profiles: { vllm: tgi } } }\n`, "agent.yaml"),
  );
  assert.deepEqual(ps.map((p) => p.path).sort(), ["engines.docker.portRange", "engines.docker.profiles.vllm", "engines.docker.registry.host"]);
});

test("a secret may not be written inline", () => {
  const ps = problems(() =>
    parseConfigText(
      AgentConfig,
      `nodeId: n1
region: eu-central-1
jurisdiction: EU
scheduler: { url: "http://127.0.0.1:1", token: "s3cret" }
gpus: { source: sim }
engines: { driver: process }
`,
      "agent.yaml",
    ),
  );
  assert.equal(ps[0]?.path, "scheduler.token");
  assert.doesNotMatch(JSON.stringify(ps), /s3cret/);
});

test("bad regions and duplicate deployment names are refused", () => {
  const bad = problems(() =>
    parseConfigText(SchedulerConfig, `auth: {}\ndeployments:\n  - { name: llama, model: m, replicasPerRegion: { "EU Central": 1 } }\n`, "s.yaml"),
  );
  assert.ok(bad.some((p) => p.path.startsWith("deployments[0].replicasPerRegion")), JSON.stringify(bad));
  const dup = problems(() =>
    parseConfigText(
      SchedulerConfig,
      `auth: {}\ndeployments:\n  - { name: llama, model: m, replicasPerRegion: { eu-central-1: 1 } }\n  - { name: llama, model: m, replicasPerRegion: { us-east-1: 1 } }\n`,
      "s.yaml",
    ),
  );
  assert.deepEqual(dup.map((p) => p.path), ["deployments[1].name"]);
});

test("YAML syntax errors and missing files are config errors too", () => {
  const dir = mkdtempSync(join(tmpdir(), "enclave-cfg-"));
  const f = join(dir, "bad.yaml");
  writeFileSync(f, "listen: { port: 1\n  host: [\n");
  const ps = problems(() => loadConfigFile(SchedulerConfig, f));
  assert.match(ps[0]!.message, /^YAML/);
  const missing = problems(() => loadConfigFile(SchedulerConfig, join(dir, "nope.yaml")));
  assert.match(missing[0]!.message, /cannot read: ENOENT/);
});

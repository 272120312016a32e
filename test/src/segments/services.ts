/**
 * What runs on each host of the segments, configured the way an operator would: certificates
 * and secrets in files, one config per process (validated with the processes' own schemas
 * before it is written), the real binaries.
 */
import { execFile } from "node:child_process";
import { generateKeyPairSync, randomBytes } from "node:crypto";
import { chmod, mkdir, writeFile } from "node:fs/promises";
import { join } from "node:path";
import { promisify } from "node:util";
import { makeTestPki, type TestPki } from "@enclave/audit/testing/pki";
import { AgentConfig, GatewayConfig, SchedulerConfig, parseConfig, type DeploymentInput } from "@enclave/contracts";
import { sha256Hex } from "@enclave/runtime";
import { SUBNETS, host, type HostName } from "./topology.js";

const run = promisify(execFile);

export const REGION = "eu-central-1";
export const MODEL = "meta-llama/Llama-3.1-8B-Instruct";
/** The ports of DESIGN §1 as the firewall role names them (group_vars enclave_ports). */
export const PORTS = { gateway: 8443, schedulerApi: 8090, schedulerMetrics: 9401, redis: 6379, agentMetrics: 9400, auditSink: 6514, prometheus: 9090 } as const;
export const GPU_NODES = ["gpu1", "gpu2"] as const satisfies readonly HostName[];
/** Names in the TLS certificates: the gateway's listener, and each audit sender (the receiver's PermittedPeer). */
export const NAMES = { gateway: "gateway.dmz.test", gatewayAudit: "gw-eu-1.audit.test", schedulerAudit: "sched-eu-1.audit.test", logstore: "logstore.local" } as const;
export const EMITTERS = { gateway: "gw-eu-1", scheduler: "sched-eu-1" } as const;

export const DEPLOYMENT: DeploymentInput = {
  name: "llama-8b",
  model: MODEL,
  engine: "vllm",
  gpusPerReplica: 1,
  vramPerGpuMiB: 20000,
  // One simulated GPU per node: one replica on each.
  replicasPerRegion: { [REGION]: 2 },
};

export interface Pem {
  cert: string;
  key: string;
}

export interface Secrets {
  dir: string;
  pki: TestPki;
  gatewayTls: Pem;
  gatewayAudit: Pem;
  schedulerAudit: Pem;
  checkpoint: { gateway: { key: string; publicKey: string }; scheduler: { key: string; publicKey: string } };
  /** Files holding each token; the values for the test's own probes. */
  files: { nodeToken: Record<string, string>; readerToken: string; operatorToken: string };
  tokens: { node: Record<string, string>; reader: string; operator: string; apiKey: string };
}

/** A certificate signed by the test CA (openssl, as pki.ts does for its own). */
async function issue(pki: TestPki, name: string, san: string, eku: "serverAuth" | "clientAuth"): Promise<Pem> {
  const p = (ext: string) => join(pki.dir, `${name}.${ext}`);
  const openssl = (args: string[]) => run("openssl", args, { cwd: pki.dir, timeout: 30_000 });
  await openssl(["req", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:P-256", "-nodes", "-subj", `/CN=${name}`, "-keyout", p("key"), "-out", p("csr")]);
  await writeFile(p("ext"), `subjectAltName=${san}\nextendedKeyUsage=${eku}\nkeyUsage=critical,digitalSignature,keyEncipherment\n`);
  // A random serial of its own: several certificates are issued at once (a shared serial file would race).
  const serial = `0x${randomBytes(16).toString("hex")}`;
  await openssl(["x509", "-req", "-in", p("csr"), "-CA", pki.ca, "-CAkey", join(pki.dir, "ca.key"), "-set_serial", serial, "-days", "2", "-extfile", p("ext"), "-out", p("pem")]);
  await chmod(p("key"), 0o600);
  return { cert: p("pem"), key: p("key") };
}

async function secretFile(dir: string, name: string, value: string): Promise<string> {
  const file = join(dir, name);
  await writeFile(file, value + "\n", { mode: 0o600 });
  return file;
}

async function checkpointKey(dir: string, name: string): Promise<{ key: string; publicKey: string }> {
  const pair = generateKeyPairSync("ed25519");
  const key = join(dir, `${name}-checkpoint.pem`);
  const publicKey = join(dir, `${name}-checkpoint.pub.pem`);
  await writeFile(key, pair.privateKey.export({ type: "pkcs8", format: "pem" }), { mode: 0o600 });
  await writeFile(publicKey, pair.publicKey.export({ type: "spki", format: "pem" }));
  return { key, publicKey };
}

const token = (what: string) => `${what}-${randomBytes(24).toString("base64url")}`;

export async function makeSecrets(dir: string): Promise<Secrets> {
  const secrets = join(dir, "secrets");
  await mkdir(secrets, { recursive: true, mode: 0o700 });
  const pki = await makeTestPki(join(dir, "pki"));
  const [gatewayTls, gatewayAudit, schedulerAudit] = await Promise.all([
    issue(pki, NAMES.gateway, `DNS:${NAMES.gateway},IP:${host("gateway").address}`, "serverAuth"),
    issue(pki, NAMES.gatewayAudit, `DNS:${NAMES.gatewayAudit}`, "clientAuth"),
    issue(pki, NAMES.schedulerAudit, `DNS:${NAMES.schedulerAudit}`, "clientAuth"),
  ]);
  const tokens = {
    node: Object.fromEntries(GPU_NODES.map((n) => [n, token(`node-${n}`)])),
    reader: token("reader"),
    operator: token("operator"),
    apiKey: token("sk-acme"),
  };
  const files = {
    nodeToken: Object.fromEntries(await Promise.all(GPU_NODES.map(async (n) => [n, await secretFile(secrets, `${n}.token`, tokens.node[n]!)] as const))),
    readerToken: await secretFile(secrets, "gateway.token", tokens.reader),
    operatorToken: await secretFile(secrets, "operator.token", tokens.operator),
  };
  return {
    dir: secrets, pki, gatewayTls, gatewayAudit, schedulerAudit,
    checkpoint: { gateway: await checkpointKey(secrets, "gateway"), scheduler: await checkpointKey(secrets, "scheduler") },
    files, tokens,
  };
}

/** The region's audit sink: rsyslog on the log host, mutual TLS, this sender's certificate. */
function auditSink(s: Secrets, client: Pem) {
  return {
    type: "syslog", host: host("logs").address, port: PORTS.auditSink, serverName: NAMES.logstore,
    tls: { ca: s.pki.ca, cert: client.cert, key: { file: client.key } },
    timeoutMs: 5000, pollMs: 200, lingerMs: 20, backoff: { initialMs: 100, maxMs: 1000 },
  };
}

const schedulerUrl = () => `http://${host("scheduler").address}:${PORTS.schedulerApi}`;
const redisUrl = () => `redis://${host("scheduler").address}:${PORTS.redis}`;

async function writeConfig(file: string, schema: typeof SchedulerConfig | typeof AgentConfig | typeof GatewayConfig, data: unknown): Promise<string> {
  await writeFile(file, JSON.stringify(parseConfig(schema, data, file), null, 2) + "\n", { mode: 0o600 });
  return file;
}

export async function writeConfigs(dir: string, s: Secrets): Promise<{ scheduler: string; gateway: string; agents: Record<string, string>; deployment: string }> {
  const cfg = join(dir, "config");
  await mkdir(cfg, { recursive: true });
  const scheduler = await writeConfig(join(cfg, "scheduler.yaml"), SchedulerConfig, {
    listen: { host: host("scheduler").address, port: PORTS.schedulerApi },
    metricsListen: { host: host("scheduler").address, port: PORTS.schedulerMetrics },
    logLevel: "info",
    redis: { url: redisUrl() },
    nodeTtlMs: 6000,
    reconcileIntervalMs: 300,
    auth: {
      nodes: GPU_NODES.map((n) => ({ id: n, tokenSha256: sha256Hex(s.tokens.node[n]!), region: REGION, jurisdiction: "EU" })),
      readers: [{ id: EMITTERS.gateway, tokenSha256: sha256Hex(s.tokens.reader) }],
      operators: [{ id: "ops-alice", tokenSha256: sha256Hex(s.tokens.operator), role: "operator" }],
    },
    audit: {
      emitter: EMITTERS.scheduler,
      homeRegion: REGION,
      spool: { dir: join(dir, "spool", "scheduler") },
      sinks: { [REGION]: auditSink(s, s.schedulerAudit) },
      checkpoint: { key: { file: s.checkpoint.scheduler.key }, intervalMs: 500 },
    },
  });
  const agents: Record<string, string> = {};
  for (const n of GPU_NODES) {
    const address = host(n).address;
    agents[n] = await writeConfig(join(cfg, `agent-${n}.yaml`), AgentConfig, {
      nodeId: n,
      region: REGION,
      jurisdiction: "EU",
      logLevel: "info",
      listen: { host: address, port: PORTS.agentMetrics },
      scheduler: { url: schedulerUrl(), token: { file: s.files.nodeToken[n] }, heartbeatIntervalMs: 500, timeoutMs: 3000 },
      redis: { url: redisUrl() },
      gpus: { source: "sim", count: 1, kernelLog: null },
      // Engines bind the node's address, in the firewall's engine range (the default portRange).
      engines: { driver: "process", host: address, startupTimeoutMs: 30000, healthIntervalMs: 300, sim: { ttftMs: 5, itlMs: 2, maxConcurrent: 16, outputTokens: 8 } },
    });
  }
  const gateway = await writeConfig(join(cfg, "gateway.yaml"), GatewayConfig, {
    id: EMITTERS.gateway,
    homeRegion: REGION,
    listen: { host: host("gateway").address, port: PORTS.gateway, tls: { cert: s.gatewayTls.cert, key: s.gatewayTls.key } },
    logLevel: "info",
    scheduler: { url: schedulerUrl(), token: { file: s.files.readerToken }, watchTimeoutMs: 5000 },
    // The egress guard as Ansible renders it: the inference segment, engine ports only.
    egress: { backends: [{ cidr: `${SUBNETS.inference}.0/24`, ports: "20000-20999" }] },
    tenants: [{ id: "acme", regions: [REGION], apiKeys: [{ id: "acme-key", sha256: sha256Hex(s.tokens.apiKey) }] }],
    audit: {
      spool: { dir: join(dir, "spool", "gateway") },
      sinks: { [REGION]: auditSink(s, s.gatewayAudit) },
      checkpoint: { key: { file: s.checkpoint.gateway.key }, intervalMs: 500 },
    },
    proxy: { maxRetries: 1, connectTimeoutMs: 2000, headersTimeoutMs: 10000, bodyTimeoutMs: 10000, totalTimeoutMs: 20000 },
  });
  const deployment = join(cfg, "deployment.yaml");
  await writeFile(deployment, JSON.stringify(DEPLOYMENT, null, 2) + "\n");
  return { scheduler, gateway, agents, deployment };
}

/** The log host's audit receiver: rsyslog's GnuTLS driver, mutual TLS, only the two senders' names permitted, each message stored byte for byte. */
export async function writeRsyslogConfig(dir: string, s: Secrets): Promise<{ conf: string; output: string; pidFile: string }> {
  const base = join(dir, "rsyslog");
  await mkdir(join(base, "work"), { recursive: true });
  const output = join(base, "audit.log");
  const conf = join(base, "rsyslog.conf");
  await writeFile(conf, `global(
  workDirectory="${join(base, "work")}"
  maxMessageSize="256k"
  net.enableDNS="off"
  DefaultNetstreamDriver="gtls"
  DefaultNetstreamDriverCAFile="${s.pki.ca}"
  DefaultNetstreamDriverCertFile="${s.pki.server.cert}"
  DefaultNetstreamDriverKeyFile="${s.pki.server.key}"
)
module(load="imtcp")
template(name="EnclaveAuditRaw" type="string" string="%rawmsg%\\n")
ruleset(name="enclave-audit-${REGION}") {
  action(type="omfile" file="${output}" template="EnclaveAuditRaw")
  stop
}
input(type="imtcp" address="${host("logs").address}" port="${PORTS.auditSink}" ruleset="enclave-audit-${REGION}"
  StreamDriver.Name="gtls" StreamDriver.Mode="1" StreamDriver.AuthMode="x509/name"
  PermittedPeer=["${NAMES.gatewayAudit}","${NAMES.schedulerAudit}"])
`);
  await run("rsyslogd", ["-N1", "-f", conf], { timeout: 10_000 });
  return { conf, output, pidFile: join(base, "rsyslogd.pid") };
}

/** Prometheus on the log host: the agents, the scheduler's metrics-only port, the gateway (over TLS), and a target the matrix does not allow (the scheduler's API). */
export async function writePrometheusConfig(dir: string, s: Secrets): Promise<{ conf: string; data: string }> {
  const base = join(dir, "prometheus");
  await mkdir(join(base, "data"), { recursive: true });
  const conf = join(base, "prometheus.yml");
  const targets = (xs: string[]) => `[${xs.map((x) => JSON.stringify(x)).join(", ")}]`;
  await writeFile(conf, `global:
  scrape_interval: 1s
  scrape_timeout: 900ms
scrape_configs:
  - job_name: node-agent
    static_configs:
      - targets: ${targets(GPU_NODES.map((n) => `${host(n).address}:${PORTS.agentMetrics}`))}
  - job_name: gateway
    scheme: https
    tls_config:
      ca_file: ${JSON.stringify(s.pki.ca)}
      server_name: ${NAMES.gateway}
    static_configs:
      - targets: ${targets([`${host("gateway").address}:${PORTS.gateway}`])}
  - job_name: scheduler
    static_configs:
      - targets: ${targets([`${host("scheduler").address}:${PORTS.schedulerMetrics}`])}
  - job_name: scheduler-not-in-the-matrix
    static_configs:
      - targets: ${targets([`${host("scheduler").address}:${PORTS.schedulerApi}`])}
`);
  await run("promtool", ["check", "config", conf], { timeout: 20_000 });
  return { conf, data: join(base, "data") };
}

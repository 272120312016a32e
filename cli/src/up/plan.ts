import type { AgentConfig, DeploymentInput, GatewayConfig, SchedulerConfig } from "@enclave/contracts";
import { sha256Hex } from "@enclave/runtime";
import { isIP } from "node:net";
import { join } from "node:path";

/** The demo fleet of `enclave up`: one node per region, two simulated H100s each. */
export const LOCAL_NODES = [
  { nodeId: "eu-node-1", region: "eu-central-1", jurisdiction: "EU", tenant: "demo-eu" },
  { nodeId: "us-node-1", region: "us-east-1", jurisdiction: "US", tenant: "demo-us" },
] as const;

export const LOCAL_MODEL = "meta-llama/Llama-3.1-8B-Instruct";

export const LOCAL_DEPLOYMENT: DeploymentInput = {
  name: "llama-3-1-8b",
  model: LOCAL_MODEL,
  engine: "vllm",
  gpusPerReplica: 1,
  vramPerGpuMiB: 20000,
  replicasPerRegion: { "eu-central-1": 2, "us-east-1": 2 },
};

export interface LocalSecrets {
  nodeTokens: Record<string, string>;
  gatewayToken: string;
  /** For `enclave nodes`, `deploy`, `drain`, `capacity` against the local stack (role operator). */
  operatorToken: string;
  apiKeys: { eu: string; us: string };
}

export interface LocalPorts {
  scheduler: number;
  gateway: number;
  agents: Record<string, number>;
}

export interface LocalPlan {
  scheduler: SchedulerConfig;
  gateway: GatewayConfig;
  agents: AgentConfig[];
}

/**
 * Every config of the local stack, as plain data: what an operator would write by hand
 * for a small fleet. Secrets are only referenced (files under `secretsDir`), never inlined.
 */
export function localPlan(p: { host: string; redisUrl: string; ports: LocalPorts; secrets: LocalSecrets; secretsDir: string; stateDir: string }): LocalPlan {
  const schedulerUrl = `http://${p.host}:${p.ports.scheduler}`;
  const scheduler = {
    listen: { host: p.host, port: p.ports.scheduler },
    logLevel: "info",
    redis: { url: p.redisUrl },
    nodeTtlMs: 6000,
    reconcileIntervalMs: 500,
    auth: {
      nodes: LOCAL_NODES.map((n) => ({ id: n.nodeId, tokenSha256: sha256Hex(p.secrets.nodeTokens[n.nodeId] ?? ""), region: n.region, jurisdiction: n.jurisdiction })),
      readers: [{ id: "gateway", tokenSha256: sha256Hex(p.secrets.gatewayToken) }],
      operators: [{ id: "demo-operator", tokenSha256: sha256Hex(p.secrets.operatorToken), role: "operator" }],
    },
    // Operator actions (deploy, drain, …) are refused without an audit trail. No sinks locally,
    // so records stay in the spool, signed with the gateway's checkpoint key.
    audit: {
      emitter: "scheduler",
      homeRegion: "eu-central-1",
      spool: { dir: join(p.stateDir, "audit", "scheduler") },
      checkpoint: { key: { file: join(p.secretsDir, "audit-checkpoint.pem") }, intervalMs: 10000 },
    },
    deployments: [LOCAL_DEPLOYMENT],
  } as SchedulerConfig;
  const gateway = {
    id: "gateway-1",
    homeRegion: "eu-central-1",
    // The local stack is loopback-only; a real gateway terminates TLS (docs/configuration.md).
    listen: { host: p.host, port: p.ports.gateway, plaintext: true },
    logLevel: "info",
    scheduler: { url: schedulerUrl, token: { file: join(p.secretsDir, "gateway.token") }, watchTimeoutMs: 25000 },
    // The engines run on this host, in the process driver's port range; nothing else is dialled.
    ...(isIP(p.host) !== 0 ? { egress: { backends: [{ cidr: `${p.host}/${isIP(p.host) === 4 ? 32 : 128}`, ports: "20000-20999" }] } } : {}),
    tenants: [
      { id: "demo-eu", regions: ["eu-central-1"], apiKeys: [{ id: "demo-eu-key", sha256: sha256Hex(p.secrets.apiKeys.eu) }] },
      { id: "demo-us", regions: ["us-east-1"], apiKeys: [{ id: "demo-us-key", sha256: sha256Hex(p.secrets.apiKeys.us) }] },
    ],
    // A durable spool with signed checkpoints; no sinks locally, so records stay in it.
    audit: {
      spool: { dir: join(p.stateDir, "audit", "gateway-1") },
      checkpoint: { key: { file: join(p.secretsDir, "audit-checkpoint.pem") }, intervalMs: 10000 },
    },
    proxy: { maxRetries: 2, connectTimeoutMs: 2000, headersTimeoutMs: 60000, bodyTimeoutMs: 60000 },
    bodyLimitBytes: 4 * 1024 * 1024,
  } as GatewayConfig;
  const agents = LOCAL_NODES.map(
    (n) =>
      ({
        nodeId: n.nodeId,
        region: n.region,
        jurisdiction: n.jurisdiction,
        logLevel: "info",
        listen: { host: p.host, port: p.ports.agents[n.nodeId] ?? 0 },
        scheduler: { url: schedulerUrl, token: { file: join(p.secretsDir, `${n.nodeId}.token`) }, heartbeatIntervalMs: 2000, timeoutMs: 5000 },
        redis: { url: p.redisUrl },
        // Rehearse a hardware fault by writing this file, e.g. {"1": {"eccUncorrectedVolatile": 1}}.
        gpus: { source: "sim", count: 2, model: "NVIDIA H100 80GB HBM3", faultsFile: join(p.stateDir, "gpu-faults", `${n.nodeId}.json`) },
        engines: {
          driver: "process",
          host: p.host,
          startupTimeoutMs: 30000,
          healthIntervalMs: 500,
          restart: { initialBackoffMs: 2000, maxBackoffMs: 30000, maxRestarts: 5 },
          sim: { ttftMs: 20, itlMs: 5, maxConcurrent: 64, outputTokens: 16 },
        },
      }) as AgentConfig,
  );
  return { scheduler, gateway, agents };
}

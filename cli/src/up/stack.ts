import { generateKeyPairSync } from "node:crypto";
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import { AgentConfig, GatewayConfig, RouteTable, SchedulerConfig, parseConfig } from "@enclave/contracts";
import { freePort, startRedisServer, waitFor, type RedisServer } from "@enclave/runtime";
import { startChild, stop, type Child } from "./children.js";
import { LOCAL_NODES, localPlan, type LocalSecrets } from "./plan.js";
import { newToken } from "./secrets.js";

export interface LocalStackOptions {
  host?: string;
  /** Gateway port; 0 picks a free one. */
  port?: number;
  /** Keep configs, logs and the audit log here (kept on exit); default: a temp dir, removed on exit. */
  dir?: string;
  /** Use this Redis instead of starting a private one. */
  redisUrl?: string;
  readyTimeoutMs?: number;
  /** Called when a child dies while the stack runs. */
  onChildExit?: (name: string, logFile: string) => void;
}

export interface LocalStack {
  gateway: string;
  scheduler: string;
  keys: { eu: string; us: string };
  stateDir: string;
  /** The gateway's audit spool. */
  auditLog: string;
  /** The scheduler's audit spool (operator actions). */
  schedulerAuditLog: string;
  logsDir: string;
  /** The demo operator token's file, for ENCLAVE_TOKEN_FILE. */
  operatorTokenFile: string;
  stop(): Promise<void>;
}

const CLI_MAIN = fileURLToPath(new URL("../main.js", import.meta.url));

function writeConfig(path: string, data: unknown): void {
  // JSON is YAML: the file reads the same to `enclave config check` and to an operator's editor.
  writeFileSync(path, JSON.stringify(data, null, 2) + "\n", { mode: 0o600 });
}

function writeSecret(path: string, value: string): void {
  writeFileSync(path, value + "\n", { mode: 0o600 });
}

/** Starts Redis (unless given), the scheduler, two simulated nodes and the gateway, and waits until every replica serves. */
export async function startLocalStack(opts: LocalStackOptions = {}): Promise<LocalStack> {
  const host = opts.host ?? "127.0.0.1";
  const keepDir = opts.dir !== undefined;
  const stateDir = opts.dir ?? mkdtempSync(join(tmpdir(), "enclave-up-"));
  const dirs = { config: join(stateDir, "config"), secrets: join(stateDir, "secrets"), logs: join(stateDir, "logs"), audit: join(stateDir, "audit"), faults: join(stateDir, "gpu-faults") };
  for (const d of Object.values(dirs)) mkdirSync(d, { recursive: true, mode: 0o700 });

  const children: Child[] = [];
  let redis: RedisServer | undefined;
  let stopping = false;
  const stopAll = async () => {
    stopping = true;
    // Reverse start order: the gateway first, so no request reaches a stopping engine.
    for (const c of [...children].reverse()) await stop(c);
    await redis?.stop();
    if (!keepDir) rmSync(stateDir, { recursive: true, force: true });
  };

  try {
    const redisUrl = opts.redisUrl ?? (redis = await startRedisServer({ host })).url;
    const secrets: LocalSecrets = {
      nodeTokens: Object.fromEntries(LOCAL_NODES.map((n) => [n.nodeId, newToken(`node-${n.nodeId}`)])),
      gatewayToken: newToken("gw"),
      operatorToken: newToken("op"),
      apiKeys: { eu: newToken("sk-enclave-eu"), us: newToken("sk-enclave-us") },
    };
    writeSecret(join(dirs.secrets, "gateway.token"), secrets.gatewayToken);
    writeSecret(join(dirs.secrets, "operator.token"), secrets.operatorToken);
    for (const n of LOCAL_NODES) writeSecret(join(dirs.secrets, `${n.nodeId}.token`), secrets.nodeTokens[n.nodeId]!);
    // The gateway and the scheduler sign audit checkpoints; `enclave audit verify --public-key secrets/audit-checkpoint.pub.pem` checks them.
    const checkpointKey = generateKeyPairSync("ed25519");
    writeSecret(join(dirs.secrets, "audit-checkpoint.pem"), checkpointKey.privateKey.export({ type: "pkcs8", format: "pem" }).toString().trim());
    writeSecret(join(dirs.secrets, "audit-checkpoint.pub.pem"), checkpointKey.publicKey.export({ type: "spki", format: "pem" }).toString().trim());

    const ports = {
      scheduler: await freePort(host),
      gateway: opts.port ?? 8080,
      agents: Object.fromEntries(await Promise.all(LOCAL_NODES.map(async (n) => [n.nodeId, await freePort(host)] as const))),
    };
    if (ports.gateway === 0) ports.gateway = await freePort(host);
    const plan = localPlan({ host, redisUrl, ports, secrets, secretsDir: dirs.secrets, stateDir });
    // Validate what we are about to write with the same schemas the processes use.
    const files = {
      scheduler: join(dirs.config, "scheduler.yaml"),
      gateway: join(dirs.config, "gateway.yaml"),
      agents: plan.agents.map((a) => join(dirs.config, `agent-${a.nodeId}.yaml`)),
    };
    writeConfig(files.scheduler, parseConfig(SchedulerConfig, plan.scheduler, files.scheduler));
    writeConfig(files.gateway, parseConfig(GatewayConfig, plan.gateway, files.gateway));
    plan.agents.forEach((a, i) => writeConfig(files.agents[i]!, parseConfig(AgentConfig, a, files.agents[i]!)));

    const launch = (name: string, kind: string, file: string) => {
      const c = startChild(name, CLI_MAIN, [kind, "--config", file], join(dirs.logs, `${name}.log`));
      children.push(c);
      void c.exited.then(() => {
        if (!stopping) opts.onChildExit?.(name, c.logFile);
      });
      return c;
    };
    const schedulerUrl = `http://${host}:${ports.scheduler}`;
    const gatewayUrl = `http://${host}:${ports.gateway}`;
    launch("scheduler", "scheduler", files.scheduler);
    plan.agents.forEach((a, i) => launch(`agent-${a.nodeId}`, "agent", files.agents[i]!));
    launch("gateway", "gateway", files.gateway);

    const deadline = opts.readyTimeoutMs ?? 30000;
    const failedEarly = () => {
      const dead = children.find((c) => c.process.exitCode !== null || c.process.signalCode !== null);
      if (dead) throw new Error(`${dead.name} exited during start-up; see ${dead.logFile}`);
    };
    // Serving means: every replica ready in the scheduler's table, and the gateway holds that table.
    const wanted = Object.values(plan.scheduler.deployments[0]!.replicasPerRegion).reduce((a, b) => a + b, 0);
    const table = await waitFor(
      async () => {
        failedEarly();
        const r = await fetch(`${schedulerUrl}/v1/routes`, { headers: { authorization: `Bearer ${secrets.gatewayToken}` }, signal: AbortSignal.timeout(2000) });
        if (!r.ok) return undefined;
        const t = RouteTable.parse(await r.json());
        return t.entries.length >= wanted ? t : undefined;
      },
      { timeoutMs: deadline, intervalMs: 100, what: `${wanted} ready engines` },
    );
    await waitFor(
      async () => {
        failedEarly();
        const r = await fetch(`${gatewayUrl}/metrics`, { signal: AbortSignal.timeout(2000) });
        const m = /^enclave_gateway_route_table_version(?:\{[^}]*\})? (\d+(?:\.\d+)?(?:e\+\d+)?)$/m.exec(await r.text());
        return m && Number(m[1]) >= table.version;
      },
      { timeoutMs: deadline, intervalMs: 100, what: "the gateway to hold the route table" },
    );
    return {
      gateway: gatewayUrl,
      scheduler: schedulerUrl,
      keys: secrets.apiKeys,
      stateDir,
      auditLog: plan.gateway.audit.spool?.dir ?? plan.gateway.audit.file!,
      schedulerAuditLog: plan.scheduler.audit!.spool.dir,
      logsDir: dirs.logs,
      operatorTokenFile: join(dirs.secrets, "operator.token"),
      stop: stopAll,
    };
  } catch (e) {
    await stopAll();
    throw e;
  }
}

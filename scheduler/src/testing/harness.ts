import { randomBytes } from "node:crypto";
import { existsSync, mkdtempSync, rmSync } from "node:fs";
import { readFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import type { TestContext } from "node:test";
import { auditFilesOf, decodeAuditLine } from "@enclave/audit";
import { AuditRecord, SchedulerConfig, type DeploymentInput, type NodeReport } from "@enclave/contracts";
import { createLogger, sha256Hex, startRedisServer, type RedisServer } from "@enclave/runtime";
import { startScheduler, type Scheduler } from "../scheduler.js";

export interface TestTokens {
  nodeTokens: Map<string, string>;
  /** The gateway's route-reader token. */
  readerToken: string;
  viewerToken: string;
  operatorToken: string;
}

/** A scheduler on a free port with one token per node, a reader, a viewer and an operator token; everything closed when the test ends. */
export interface TestScheduler extends TestTokens {
  scheduler: Scheduler;
  url: string;
  /** The operator audit spool directory, or null when the test asked for none. */
  auditDir: string | null;
  /** The operator action records in the audit spool (every chain, in chain order; checkpoints left out). */
  auditRecords(): Promise<AuditRecord[]>;
  /** POSTs a heartbeat with the node's own token (or `token`). */
  heartbeat(report: NodeReport | unknown, opts?: { nodeId?: string; token?: string | null }): Promise<Response>;
  /** GET with the viewer token (or `token`; null for none). */
  get(path: string, opts?: { token?: string | null; signal?: AbortSignal }): Promise<Response>;
  /** A JSON request with the operator token (or `token`; null for none). */
  send(method: "PUT" | "POST" | "DELETE", path: string, body?: unknown, opts?: { token?: string | null }): Promise<Response>;
}

export interface TestSchedulerOptions {
  redisUrl: string;
  nodes: string[];
  deployments?: DeploymentInput[];
  nodeTtlMs?: number;
  reconcileIntervalMs?: number;
  /** Reuse tokens across a restart. */
  tokens?: TestTokens;
  /** null: no audit trail (operator actions refused); default: a spool in a temporary directory. */
  auditDir?: string | null;
  /** More of the audit section (sinks, checkpoint); the spool's directory is `auditDir`'s. */
  audit?: Record<string, unknown>;
  /** More of the spool's settings (budget, segment size); its directory is `auditDir`. */
  auditSpool?: Record<string, unknown>;
  placement?: Partial<SchedulerConfig["placement"]>;
  tls?: SchedulerConfig["tls"];
  /** Where some nodes' hardware is configured to be (`auth.nodes[].region/jurisdiction`). */
  pins?: Record<string, { region?: string; jurisdiction?: string }>;
  metricsListen?: SchedulerConfig["metricsListen"];
}

const stacks = new WeakMap<TestContext, (() => unknown)[]>();

/**
 * Runs `fn` when the test ends, last registered first (node:test runs `t.after` hooks in
 * registration order), so a scheduler closes before the Redis it uses stops.
 */
export function defer(t: TestContext, fn: () => unknown): void {
  let stack = stacks.get(t);
  if (!stack) {
    const s: (() => unknown)[] = [];
    stack = s;
    stacks.set(t, s);
    t.after(async () => {
      const errors: unknown[] = [];
      for (let f = s.pop(); f !== undefined; f = s.pop()) {
        try {
          await f();
        } catch (e) {
          errors.push(e);
        }
      }
      if (errors.length > 0) throw errors[0];
    });
  }
  stack.push(fn);
}

/** The tokens of a running test scheduler, to start another one (a restart, a second replica) that accepts them. */
export function tokensOf(s: TestTokens): TestTokens {
  return { nodeTokens: s.nodeTokens, readerToken: s.readerToken, viewerToken: s.viewerToken, operatorToken: s.operatorToken };
}

export function newToken(): string {
  return randomBytes(24).toString("base64url");
}

export async function startTestScheduler(t: TestContext, o: TestSchedulerOptions): Promise<TestScheduler> {
  const nodeTokens = o.tokens?.nodeTokens ?? new Map(o.nodes.map((id) => [id, `node-${newToken()}`]));
  const readerToken = o.tokens?.readerToken ?? `reader-${newToken()}`;
  const viewerToken = o.tokens?.viewerToken ?? `viewer-${newToken()}`;
  const operatorToken = o.tokens?.operatorToken ?? `operator-${newToken()}`;
  let auditDir: string | null = null;
  if (o.auditDir !== null) {
    if (o.auditDir !== undefined) auditDir = o.auditDir;
    else {
      const dir = mkdtempSync(join(tmpdir(), "enclave-sched-audit-"));
      defer(t, () => rmSync(dir, { recursive: true, force: true }));
      auditDir = join(dir, "spool");
    }
  }
  const config = SchedulerConfig.parse({
    listen: { host: "127.0.0.1", port: 0 },
    logLevel: process.env["TEST_LOG_LEVEL"] ?? "silent",
    redis: { url: o.redisUrl },
    nodeTtlMs: o.nodeTtlMs ?? 1000,
    reconcileIntervalMs: o.reconcileIntervalMs ?? 100,
    auth: {
      nodes: [...nodeTokens].map(([id, token]) => ({ id, tokenSha256: sha256Hex(token), ...o.pins?.[id] })),
      readers: [{ id: "gateway", tokenSha256: sha256Hex(readerToken) }],
      operators: [
        { id: "alice-viewer", tokenSha256: sha256Hex(viewerToken), role: "viewer" },
        { id: "bob-operator", tokenSha256: sha256Hex(operatorToken), role: "operator" },
      ],
    },
    ...(auditDir !== null ? { audit: { homeRegion: "eu-central-1", ...o.audit, spool: { ...o.auditSpool, dir: auditDir } } } : {}),
    ...(o.placement ? { placement: o.placement } : {}),
    ...(o.tls ? { tls: o.tls } : {}),
    ...(o.metricsListen ? { metricsListen: o.metricsListen } : {}),
    deployments: o.deployments ?? [],
  });
  const scheduler = await startScheduler(config, { log: createLogger("scheduler-test", config.logLevel) });
  defer(t, () => scheduler.close());
  const url = scheduler.url;
  return {
    scheduler,
    url,
    nodeTokens,
    readerToken,
    viewerToken,
    operatorToken,
    auditDir,
    auditRecords: () => (auditDir === null ? Promise.resolve([]) : spooledRecords(auditDir)),
    heartbeat: (report, opts = {}) => {
      const nodeId = opts.nodeId ?? (report as NodeReport).nodeId;
      const token = opts.token === undefined ? nodeTokens.get(nodeId) : opts.token;
      return fetch(`${url}/v1/nodes/${encodeURIComponent(nodeId)}/heartbeat`, {
        method: "POST",
        headers: { "content-type": "application/json", ...(token ? { authorization: `Bearer ${token}` } : {}) },
        body: typeof report === "string" ? report : JSON.stringify(report),
        signal: AbortSignal.timeout(5000),
      });
    },
    get: (path, opts = {}) => {
      const token = opts.token === undefined ? viewerToken : opts.token;
      return fetch(`${url}${path}`, {
        headers: token ? { authorization: `Bearer ${token}` } : {},
        signal: opts.signal ?? AbortSignal.timeout(30000),
      });
    },
    send: (method, path, body, opts = {}) => {
      const token = opts.token === undefined ? operatorToken : opts.token;
      return fetch(`${url}${path}`, {
        method,
        headers: { ...(body !== undefined ? { "content-type": "application/json" } : {}), ...(token ? { authorization: `Bearer ${token}` } : {}) },
        ...(body !== undefined ? { body: typeof body === "string" ? body : JSON.stringify(body) } : {}),
        signal: AbortSignal.timeout(10000),
      });
    },
  };
}

/** Every record in a spool directory, read the way `enclave audit verify` reads it (frames, every chain). */
export async function spooledRecords(dir: string): Promise<AuditRecord[]> {
  if (!existsSync(dir)) return [];
  const out: AuditRecord[] = [];
  for (const file of await auditFilesOf(dir)) {
    for (const line of (await readFile(file, "utf8")).split("\n")) {
      const d = decodeAuditLine(line);
      if (d.kind === "bad") throw new Error(`${file}: ${d.message}`);
      if (d.kind === "entry" && (d.value as { kind?: unknown }).kind !== "checkpoint") out.push(AuditRecord.parse(d.value));
    }
  }
  return out;
}

export async function startTestRedis(t: TestContext): Promise<RedisServer> {
  const redis = await startRedisServer();
  defer(t, () => redis.stop());
  return redis;
}

/**
 * A node that heartbeats its (mutable) report every `intervalMs` until stopped,
 * like an agent would. Failed heartbeats are recorded, not thrown.
 */
export class FakeNode {
  private timer: NodeJS.Timeout | undefined;
  private inFlight: Promise<unknown> | undefined;
  readonly statuses: number[] = [];

  constructor(
    private readonly s: TestScheduler,
    public report: NodeReport,
  ) {}

  start(t: TestContext, intervalMs = 150): this {
    const beat = () => {
      this.inFlight = this.s
        .heartbeat({ ...this.report, time: Date.now() })
        .then(async (r) => {
          this.statuses.push(r.status);
          await r.body?.cancel();
        })
        .catch(() => this.statuses.push(0));
    };
    beat();
    this.timer = setInterval(beat, intervalMs);
    defer(t, () => this.stop());
    return this;
  }

  async stop(): Promise<void> {
    clearInterval(this.timer);
    this.timer = undefined;
    await this.inFlight;
  }
}

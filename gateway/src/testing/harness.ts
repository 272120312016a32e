import { mkdtemp, rm, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import type { TestContext } from "node:test";
import { GatewayConfig, type RouteEntry, type RouteTable } from "@enclave/contracts";
import { createLogger, sha256Hex, waitFor } from "@enclave/runtime";
import { startGateway, type Gateway } from "../gateway.js";
import { startFakeEngine, type FakeEngine, type FakeEngineMode } from "./fake-engine.js";
import { startFakeScheduler, type FakeScheduler } from "./fake-scheduler.js";

export const MODEL = "llama-3.1-8b";
export const KEYS = { acme: "sk-acme-test", limited: "sk-limited-test", euOnly: "sk-eu-only-test" } as const;
const SCHEDULER_TOKEN = "sched-token-test";

export interface EngineSpec {
  name: string;
  region: string;
  mode?: FakeEngineMode;
  /** A backend whose port has nothing listening. */
  dead?: boolean;
  model?: string;
}

export interface Harness {
  gateway: Gateway;
  scheduler: FakeScheduler;
  engines: Map<string, FakeEngine>;
  table: RouteTable;
  auditFile: string;
  dir: string;
  /** POST /v1/chat/completions with a key (null: no Authorization header). */
  chat(body: unknown, opts?: { key?: string | null; headers?: Record<string, string>; raw?: string | Buffer }): Promise<Response>;
  entry(name: string): RouteEntry;
}

/**
 * A gateway wired to a fake scheduler serving a table of fake engines. Tenants:
 * acme (eu-central-1, eu-west-1; all models), limited (eu-central-1; only "small-model"),
 * euOnly (eu-central-1). Everything is torn down after the test, pass or fail.
 */
export interface HarnessOptions {
  maxRetries?: number;
  bodyLimitBytes?: number;
  initialTable?: boolean;
  headersTimeoutMs?: number;
  /** Merged into the gateway config before it is parsed. */
  config?: Record<string, unknown>;
  /** Merged into every tenant. */
  tenant?: Record<string, unknown>;
}

export async function startHarness(t: TestContext, specs: EngineSpec[], opts: HarnessOptions = {}): Promise<Harness> {
  const dir = await mkdtemp(join(tmpdir(), "enclave-gw-"));
  t.after(() => rm(dir, { recursive: true, force: true }));
  const engines = new Map<string, FakeEngine>();
  const entries: RouteEntry[] = [];
  for (const s of specs) {
    let url: string;
    if (s.dead) {
      // Bound and closed again: nothing listens there now.
      const e = await startFakeEngine(s.name);
      url = e.url;
      await e.close();
    } else {
      const e = await startFakeEngine(s.name, s.mode ?? "json");
      t.after(() => e.close());
      engines.set(s.name, e);
      url = e.url;
    }
    entries.push({ backendId: `node-${s.name}/${s.name}/${s.region}/0/g1`, nodeId: `node-${s.name}`, model: s.model ?? MODEL, engine: "vllm", region: s.region, jurisdiction: s.region.startsWith("us") ? "US" : "EU", url, load: null });
  }
  const models = [...new Set(entries.map((e) => e.model))].map((name) => ({
    name,
    regions: [...new Set(entries.filter((e) => e.model === name).map((e) => e.region))],
  }));
  const table: RouteTable = { version: 1, generatedAt: Date.now(), models, entries };
  const scheduler = await startFakeScheduler({ token: SCHEDULER_TOKEN, table: opts.initialTable === false ? null : table });
  t.after(() => scheduler.close());

  const tokenFile = join(dir, "scheduler.token");
  await writeFile(tokenFile, SCHEDULER_TOKEN + "\n", { mode: 0o600 });
  const auditFile = join(dir, "audit", "gateway.jsonl");
  const config = GatewayConfig.parse({
    id: "gw-test",
    homeRegion: "eu-central-1",
    listen: { host: "127.0.0.1", port: 0, plaintext: true },
    logLevel: "silent",
    scheduler: { url: scheduler.url, token: { file: tokenFile }, watchTimeoutMs: 2000 },
    tenants: [
      { id: "acme", regions: ["eu-central-1", "eu-west-1"], apiKeys: [{ id: "acme-key", sha256: sha256Hex(KEYS.acme) }], ...opts.tenant },
      { id: "limited", regions: ["eu-central-1"], models: ["small-model"], apiKeys: [{ id: "limited-key", sha256: sha256Hex(KEYS.limited) }], ...opts.tenant },
      { id: "eu-only", regions: ["eu-central-1"], apiKeys: [{ id: "eu-only-key", sha256: sha256Hex(KEYS.euOnly) }], ...opts.tenant },
    ],
    audit: { file: auditFile },
    proxy: { maxRetries: opts.maxRetries ?? 2, connectTimeoutMs: 1000, headersTimeoutMs: opts.headersTimeoutMs ?? 5000, bodyTimeoutMs: 5000 },
    bodyLimitBytes: opts.bodyLimitBytes ?? 4096,
    ...opts.config,
  });
  const gateway = await startGateway(config, { log: createLogger("gateway-test", "silent") });
  t.after(() => gateway.close());
  if (opts.initialTable !== false) {
    await waitFor(() => gateway.routes().version === table.version, { timeoutMs: 5000, what: "the first route table" });
  }

  return {
    gateway, scheduler, engines, table, auditFile, dir,
    chat(body, o = {}) {
      const key = o.key === undefined ? KEYS.acme : o.key;
      const headers: Record<string, string> = { "content-type": "application/json", ...(key === null ? {} : { authorization: `Bearer ${key}` }), ...o.headers };
      return fetch(`${gateway.url}/v1/chat/completions`, { method: "POST", headers, body: o.raw ?? JSON.stringify(body), signal: AbortSignal.timeout(15000) });
    },
    entry(name) {
      const e = entries.find((x) => x.backendId.startsWith(`node-${name}/`));
      if (!e) throw new Error(`no engine ${name}`);
      return e;
    },
  };
}

/**
 * The egress guard with a real gateway: whatever the scheduler's route table says, the
 * gateway dials only backends inside the configured networks and ports, and nothing a
 * client sends (model names, headers, bodies, request targets) changes where it connects.
 * Listeners that count connections prove what was never dialled.
 */
import { test, type TestContext } from "node:test";
import assert from "node:assert/strict";
import { connect } from "node:net";
import { mkdtemp, rm, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { GatewayConfig, type RouteEntry, type RouteTable } from "@enclave/contracts";
import { sha256Hex, waitFor } from "@enclave/runtime";
import { startGateway, type Gateway } from "../gateway.js";
import { capturingLogger } from "../testing/capture-log.js";
import { startFakeEngine, type FakeEngine } from "../testing/fake-engine.js";
import { startFakeScheduler, type FakeScheduler } from "../testing/fake-scheduler.js";
import { startTrap, type Trap } from "../testing/trap.js";

const KEY = "sk-egress-test";

interface Setup {
  gateway: Gateway;
  engine: FakeEngine;
  traps: Record<"outside" | "outside6" | "wrongPort" | "named", Trap>;
  scheduler: FakeScheduler;
  table: RouteTable;
  logs: Record<string, unknown>[];
  chat(body: unknown, headers?: Record<string, string>): Promise<Response>;
  metrics(): Promise<string>;
  totalTrapped(): number;
}

function entry(id: string, model: string, url: string): RouteEntry {
  return { backendId: id, nodeId: `node-${id}`, model, engine: "vllm", region: "eu-central-1", jurisdiction: "EU", url, load: null };
}

async function setup(t: TestContext, egress: boolean | undefined = true): Promise<Setup> {
  const dir = await mkdtemp(join(tmpdir(), "enclave-egress-"));
  t.after(() => rm(dir, { recursive: true, force: true }));
  const engine = await startFakeEngine("good");
  t.after(() => engine.close());
  const traps = {
    outside: await startTrap("127.0.0.2"),
    outside6: await startTrap("::1"),
    wrongPort: await startTrap("127.0.0.1"),
    named: await startTrap("127.0.0.1"),
  };
  for (const tr of Object.values(traps)) t.after(() => tr.close());
  const enginePort = Number(new URL(engine.url).port);
  const table: RouteTable = {
    version: 1, generatedAt: Date.now(),
    models: [{ name: "m", regions: ["eu-central-1"] }, { name: "only-refused", regions: ["eu-central-1"] }],
    entries: [
      entry("good", "m", engine.url),
      entry("outside", "m", traps.outside.url),
      entry("outside6", "m", traps.outside6.url),
      entry("wrong-port", "m", traps.wrongPort.url),
      // Resolves to an allowed address and port, but a name could resolve anywhere.
      entry("named", "m", `http://localhost:${traps.named.port}`),
      entry("r-outside", "only-refused", traps.outside.url),
      entry("r-named", "only-refused", `http://localhost:${traps.named.port}`),
    ],
  };
  const token = "sched-egress";
  const scheduler = await startFakeScheduler({ token, table });
  t.after(() => scheduler.close());
  await writeFile(join(dir, "token"), token);
  const { log, lines } = capturingLogger();
  const config = GatewayConfig.parse({
    id: "gw-egress", homeRegion: "eu-central-1",
    listen: { host: "127.0.0.1", port: 0, plaintext: true },
    scheduler: { url: scheduler.url, token: { file: join(dir, "token") }, watchTimeoutMs: 1000 },
    tenants: [{ id: "acme", regions: ["eu-central-1"], apiKeys: [{ id: "k", sha256: sha256Hex(KEY) }] }],
    audit: { file: join(dir, "audit.jsonl") },
    proxy: { maxRetries: 4, connectTimeoutMs: 1000, headersTimeoutMs: 3000, bodyTimeoutMs: 3000 },
    ...(egress ? { egress: { backends: [{ cidr: "127.0.0.1/32", ports: String(enginePort) }, { cidr: "127.0.0.1/32", ports: `${traps.named.port}-${traps.named.port}` }] } } : {}),
  });
  const gateway = await startGateway(config, { log });
  t.after(() => gateway.close());
  await waitFor(() => gateway.routes().version === 1, { timeoutMs: 5000, what: "the route table" });
  return {
    gateway, engine, traps, scheduler, table, logs: lines,
    chat: (body, headers = {}) => fetch(`${gateway.url}/v1/chat/completions`, {
      method: "POST", headers: { "content-type": "application/json", authorization: `Bearer ${KEY}`, ...headers }, body: JSON.stringify(body),
    }),
    metrics: async () => (await fetch(`${gateway.url}/metrics`)).text(),
    totalTrapped: () => Object.values(traps).reduce((n, tr) => n + tr.connections, 0),
  };
}

const refusedCount = (m: string, reason: string) => Number(new RegExp(`enclave_gateway_egress_refused_total\\{reason="${reason}"[^}]*\\} (\\d+)`).exec(m)?.[1] ?? 0);

test("egress: route entries outside the networks and ports are never dialled; refusals are logged and counted once per backend", async (t) => {
  const s = await setup(t);
  for (let i = 0; i < 30; i++) {
    const res = await s.chat({ model: "m", messages: [{ role: "user", content: `q${i}` }] });
    assert.equal(res.status, 200);
    assert.equal(res.headers.get("x-enclave-backend"), "good");
    await res.arrayBuffer();
  }
  // A model whose every backend is refused fails closed, like one with no backend at all.
  const denied = await s.chat({ model: "only-refused", messages: [{ role: "user", content: "x" }] });
  assert.equal(denied.status, 503);
  assert.equal(((await denied.json()) as { error: { code: string } }).error.code, "no_compliant_backend");
  assert.equal(s.engine.requests.length, 30);
  assert.equal(s.totalTrapped(), 0, "a refused backend was dialled");

  const m = await s.metrics();
  assert.equal(refusedCount(m, "outside_cidrs"), 3, m);
  assert.equal(refusedCount(m, "port_not_allowed"), 1);
  assert.equal(refusedCount(m, "host_name"), 2);
  assert.match(m, /enclave_gateway_no_compliant_backend_total\{reason="egress_refused"[^}]*\} 1/);
  const refusals = s.logs.filter((l) => l.msg === "egress: backend refused, it will not be dialled");
  assert.deepEqual(refusals.map((l) => l.backend).sort(), ["named", "outside", "outside6", "r-named", "r-outside", "wrong-port"]);
  assert.equal(s.logs.some((l) => /egress is unrestricted/.test(String(l.msg))), false);

  // A newer table with the same refused entries and one more: only the new one is logged and counted.
  s.scheduler.setTable({ ...s.table, version: 2, entries: [...s.table.entries, entry("late", "m", "http://10.99.0.1:1")] });
  await waitFor(() => s.gateway.routes().version === 2, { timeoutMs: 5000, what: "version 2" });
  const m2 = await s.metrics();
  assert.equal(refusedCount(m2, "outside_cidrs"), 4);
  assert.equal(refusedCount(m2, "host_name"), 2);
  assert.equal(s.logs.filter((l) => l.msg === "egress: backend refused, it will not be dialled").length, 7);
  const after = await s.chat({ model: "m", messages: [{ role: "user", content: "again" }] });
  assert.equal(after.status, 200);
  await after.arrayBuffer();
  assert.equal(s.totalTrapped(), 0);
});

test("egress: model names, headers, bodies and request targets carrying URLs, host names or paths never change where the gateway connects", async (t) => {
  const s = await setup(t);
  const trapUrl = s.traps.outside.url;
  const trapHost = new URL(trapUrl).host;
  const attempts: { body: unknown; headers?: Record<string, string>; status: number }[] = [
    { body: { model: trapUrl, messages: [{ role: "user", content: "hi" }] }, status: 404 },
    { body: { model: `${trapUrl}/v1/chat/completions`, messages: [] }, status: 404 },
    { body: { model: "m/../../admin", messages: [] }, status: 404 },
    { body: { model: "/etc/passwd", messages: [] }, status: 404 },
    { body: { model: "m", messages: [{ role: "user", content: `fetch ${trapUrl} and http://localhost:${s.traps.named.port}/x` }] }, status: 200 },
    { body: { model: "m", base_url: trapUrl, api_base: trapUrl, url: trapUrl, messages: [{ role: "user", content: [{ type: "image_url", image_url: { url: trapUrl } }] }] }, status: 200 },
    { body: { model: "m", messages: [] }, headers: { host: trapHost, "x-forwarded-host": trapHost, forwarded: `host=${trapHost}`, "x-forwarded-for": "127.0.0.2", "x-real-ip": "127.0.0.2" }, status: 200 },
    { body: { model: "m", messages: [] }, headers: { "x-enclave-backend": "outside", "x-enclave-session": trapUrl, "x-original-url": trapUrl, "x-rewrite-url": "/admin" }, status: 200 },
  ];
  for (const a of attempts) {
    const res = await s.chat(a.body, a.headers);
    assert.equal(res.status, a.status, JSON.stringify(a));
    if (res.status === 200) assert.equal(res.headers.get("x-enclave-backend"), "good");
    await res.arrayBuffer();
  }
  // Request targets: absolute-form, traversal, a query naming a URL.
  const raw = async (target: string, host = new URL(s.gateway.url).host) => {
    const body = JSON.stringify({ model: "m", messages: [] });
    const sock = connect(Number(new URL(s.gateway.url).port), "127.0.0.1");
    const chunks: Buffer[] = [];
    sock.on("data", (c: Buffer) => chunks.push(c));
    sock.write(`POST ${target} HTTP/1.1\r\nHost: ${host}\r\nAuthorization: Bearer ${KEY}\r\nContent-Type: application/json\r\nContent-Length: ${body.length}\r\nConnection: close\r\n\r\n${body}`);
    await new Promise<void>((resolve) => sock.on("close", () => resolve()));
    return Buffer.concat(chunks).toString().split("\r\n")[0] ?? "";
  };
  assert.match(await raw(`${trapUrl}/v1/chat/completions`, trapHost), / 404 /);
  assert.match(await raw("/v1/chat/completions/../../../admin"), / 404 /);
  assert.match(await raw("//127.0.0.2/v1/chat/completions"), / 404 /);
  assert.match(await raw(`/v1/chat/completions?url=${encodeURIComponent(trapUrl)}&host=${trapHost}`), / 200 /);

  assert.equal(s.totalTrapped(), 0, "a client-supplied destination was dialled");
  const enginePort = new URL(s.engine.url).port;
  assert.ok(s.engine.requests.length >= 5);
  for (const r of s.engine.requests) {
    assert.equal(r.url, "/v1/chat/completions", "the engine's path is fixed per endpoint");
    assert.equal(r.headers.host, `127.0.0.1:${enginePort}`, "the Host header names the backend, not what the client sent");
    assert.equal(r.headers["x-forwarded-host"], undefined);
    assert.equal(r.headers["x-enclave-backend"], undefined);
  }
});

test("egress: without egress configured the gateway says at start that egress is unrestricted", async (t) => {
  const s = await setup(t, false);
  assert.ok(s.logs.some((l) => l.level === 40 && /egress is unrestricted/.test(String(l.msg))));
  const m = await s.metrics();
  assert.equal(refusedCount(m, "outside_cidrs") + refusedCount(m, "host_name"), 0);
});

/**
 * The gateway's TLS with real certificates (openssl): HTTPS listeners with TLS 1.2+ and
 * AEAD ciphers only, client certificates required per listener, a real SIGHUP that swaps
 * the certificate for new handshakes while open connections and streams carry on, and the
 * scheduler's certificate checked against the configured CA before any token is sent.
 */
import { before, test, type TestContext } from "node:test";
import assert from "node:assert/strict";
import { readFileSync } from "node:fs";
import { copyFile, mkdtemp, rm, writeFile } from "node:fs/promises";
import { Agent as HttpsAgent, request as httpsRequest } from "node:https";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { connect as tlsConnect, type ConnectionOptions, type TLSSocket } from "node:tls";
import { GatewayConfig, type RouteTable } from "@enclave/contracts";
import { sha256Hex, waitFor } from "@enclave/runtime";
import { startGateway, type Gateway } from "./gateway.js";
import { capturingLogger } from "./testing/capture-log.js";
import { startFakeEngine } from "./testing/fake-engine.js";
import { startFakeScheduler } from "./testing/fake-scheduler.js";
import { TestPki, type Issued, type TestCa } from "./testing/pki.js";

const KEY = "sk-tls-test";
const MODEL = "m";

let dir: string;
let serverCa: TestCa;
let certA: Issued;
let certB: Issued;
let clientCa: TestCa;
let client: Issued;
let rogueClient: Issued;
let schedulerCa: TestCa;
let schedulerCert: Issued;

before(async () => {
  dir = await mkdtemp(join(tmpdir(), "enclave-gw-tls-"));
  const pki = await TestPki.create(join(dir, "pki"));
  serverCa = await pki.ca("gw-server-ca");
  certA = await pki.issue(serverCa, "gw-a", "gateway-a", "DNS:localhost,IP:127.0.0.1", "serverAuth");
  certB = await pki.issue(serverCa, "gw-b", "gateway-b", "DNS:localhost,IP:127.0.0.1", "serverAuth");
  clientCa = await pki.ca("gw-client-ca");
  client = await pki.issue(clientCa, "client", "tenant-app", "DNS:tenant-app.local", "clientAuth");
  const rogueCa = await pki.ca("rogue-ca");
  rogueClient = await pki.issue(rogueCa, "rogue", "tenant-app", "DNS:tenant-app.local", "clientAuth");
  schedulerCa = await pki.ca("sched-ca");
  schedulerCert = await pki.issue(schedulerCa, "sched", "scheduler", "DNS:localhost,IP:127.0.0.1", "serverAuth");
});

test.after(() => rm(dir, { recursive: true, force: true }));

interface TlsGateway {
  gateway: Gateway;
  /** The files the first listener reads its certificate from (replace them, then SIGHUP). */
  certFile: string;
  keyFile: string;
  lines: Record<string, unknown>[];
  port(i: number): number;
}

async function startTlsGateway(t: TestContext, o: { minVersion?: "TLSv1.2" | "TLSv1.3"; engineMode?: "json" | "sse" } = {}): Promise<TlsGateway & { engine: Awaited<ReturnType<typeof startFakeEngine>> }> {
  const d = await mkdtemp(join(dir, "gw-"));
  const certFile = join(d, "listen.crt");
  const keyFile = join(d, "listen.key");
  await copyFile(certA.cert, certFile);
  await copyFile(certA.key, keyFile);
  const engine = await startFakeEngine("tls-engine", o.engineMode ?? "json");
  t.after(() => engine.close());
  const { log, lines } = capturingLogger();
  const config = GatewayConfig.parse({
    id: "gw-tls", homeRegion: "eu-central-1",
    listen: { host: "127.0.0.1", port: 0, tls: { cert: certFile, key: keyFile, ...(o.minVersion ? { minVersion: o.minVersion } : {}) } },
    listeners: [{ host: "127.0.0.1", port: 0, tls: { cert: certA.cert, key: certA.key, clientCa: clientCa.cert, requireClientCert: true } }],
    staticRoutes: [{ id: "e", model: MODEL, region: "eu-central-1", jurisdiction: "EU", url: engine.url }],
    tenants: [{ id: "acme", regions: ["eu-central-1"], apiKeys: [{ id: "k", sha256: sha256Hex(KEY) }] }],
    audit: { file: join(d, "audit.jsonl") },
  });
  const gateway = await startGateway(config, { log });
  t.after(() => gateway.close());
  return { gateway, engine, certFile, keyFile, lines, port: (i) => Number(new URL(gateway.urls[i]!).port) };
}

type Handshake = { ok: true; socket: TLSSocket; cn: string; protocol: string | null } | { ok: false; error: string };

/** A TLS handshake, and (with a client certificate demanded) one round trip, since TLS 1.3 reports a refused client certificate only after the handshake. */
function handshake(port: number, o: ConnectionOptions = {}): Promise<Handshake> {
  return new Promise((resolve) => {
    const s = tlsConnect({ host: "127.0.0.1", port, ca: pem(serverCa.cert), servername: "localhost", ...o });
    s.once("secureConnect", () => {
      const cn = String(s.getPeerCertificate().subject?.CN ?? "");
      s.write(`GET /healthz HTTP/1.1\r\nHost: localhost\r\n\r\n`);
      s.once("data", (b: Buffer) => {
        if (b.toString().startsWith("HTTP/1.1 200")) resolve({ ok: true, socket: s, cn, protocol: s.getProtocol() });
        else resolve({ ok: false, error: b.toString().split("\r\n")[0] ?? "" });
      });
    });
    s.once("error", (e: Error) => resolve({ ok: false, error: (e as NodeJS.ErrnoException).code ?? e.message }));
    s.once("close", () => resolve({ ok: false, error: "closed" }));
  });
}

const pemCache = new Map<string, Buffer>();
function pem(f: string): Buffer {
  let b = pemCache.get(f);
  if (!b) {
    b = readFileSync(f);
    pemCache.set(f, b);
  }
  return b;
}

test("TLS listener: HTTPS with the configured certificate, TLS 1.2 and 1.3 with AEAD ciphers only, and a TLS 1.3-only listener", async (t) => {
  const g = await startTlsGateway(t);
  const h13 = await handshake(g.port(0));
  assert.equal(h13.ok, true);
  if (h13.ok) {
    assert.equal(h13.cn, "gateway-a");
    assert.equal(h13.protocol, "TLSv1.3");
    h13.socket.destroy();
  }
  const h12 = await handshake(g.port(0), { maxVersion: "TLSv1.2", ciphers: "ECDHE-ECDSA-AES128-GCM-SHA256" });
  assert.equal(h12.ok && h12.protocol, "TLSv1.2");
  if (h12.ok) h12.socket.destroy();
  // CBC suites (no AEAD) are not offered by the gateway.
  const cbc = await handshake(g.port(0), { maxVersion: "TLSv1.2", ciphers: "ECDHE-ECDSA-AES128-SHA256:ECDHE-ECDSA-AES256-SHA" });
  assert.equal(cbc.ok, false);
  // A client that does not trust the gateway's CA gets no connection.
  const untrusted = await handshake(g.port(0), { ca: [] as Buffer[] });
  assert.equal(untrusted.ok, false);
  // A real request over HTTPS.
  const res = await httpsPost(g.port(0), { ca: pem(serverCa.cert) });
  assert.equal(res.status, 200);

  const only13 = await startTlsGateway(t, { minVersion: "TLSv1.3" });
  assert.equal((await handshake(only13.port(0), { maxVersion: "TLSv1.2" })).ok, false);
  const ok13 = await handshake(only13.port(0));
  assert.equal(ok13.ok, true);
  if (ok13.ok) ok13.socket.destroy();
});

test("TLS listener requiring client certificates: none or one from another CA is refused, the right one is served", async (t) => {
  const g = await startTlsGateway(t);
  const ca = pem(serverCa.cert);
  await assert.rejects(httpsPost(g.port(1), { ca }), "no client certificate");
  await assert.rejects(httpsPost(g.port(1), { ca, cert: pem(rogueClient.cert), key: pem(rogueClient.key) }), "a certificate from another CA");
  const ok = await httpsPost(g.port(1), { ca, cert: pem(client.cert), key: pem(client.key) });
  assert.equal(ok.status, 200);
  // The first listener asks for nothing.
  assert.equal((await httpsPost(g.port(0), { ca })).status, 200);
});

test("SIGHUP: new handshakes get the new certificate; open keep-alive connections and a running stream are not dropped; a broken file keeps the old one", async (t) => {
  const g = await startTlsGateway(t, { engineMode: "sse" });
  const ca = pem(serverCa.cert);
  const agent = new HttpsAgent({ keepAlive: true, maxSockets: 1, ca });
  t.after(() => agent.destroy());
  const first = await httpsPost(g.port(0), { agent });
  assert.equal(first.status, 200);
  assert.equal(first.peerCn, "gateway-a");
  // A stream that is open across the reload (the engine holds it after its first chunk).
  g.engine.holdAfterFirst = true;
  const stream = openStream(g.port(0), ca);
  await stream.firstChunk;
  g.engine.holdAfterFirst = false;

  await copyFile(certB.cert, g.certFile);
  await copyFile(certB.key, g.keyFile);
  process.kill(process.pid, "SIGHUP");
  await waitFor(async () => {
    const h = await handshake(g.port(0));
    if (h.ok) h.socket.destroy();
    return h.ok && h.cn === "gateway-b";
  }, { timeoutMs: 5000, what: "new handshakes to present the new certificate" });

  // The pooled connection from before the reload is the same socket, still served, still on the old certificate.
  const again = await httpsPost(g.port(0), { agent });
  assert.equal(again.status, 200);
  assert.equal(again.reused, true, "the keep-alive connection survived the reload");
  assert.equal(again.peerCn, "gateway-a");
  g.engine.release();
  const streamed = await stream.done;
  assert.match(streamed, /second/);
  assert.match(streamed, /data: \[DONE\]/);

  // A certificate file that does not load is logged; the one in use stays.
  await writeFile(g.certFile, "not a certificate");
  process.kill(process.pid, "SIGHUP");
  await waitFor(() => g.lines.some((l) => l.msg === "TLS reload failed; keeping the current certificate"), { timeoutMs: 5000, what: "the reload failure in the log" });
  const still = await handshake(g.port(0));
  assert.equal(still.ok && still.cn, "gateway-b");
  if (still.ok) still.socket.destroy();
});

/** POST a chat completion over HTTPS; resolves with the status, the peer's CN and whether a pooled socket was used. */
function httpsPost(port: number, o: { agent?: HttpsAgent; ca?: Buffer; cert?: Buffer; key?: Buffer }): Promise<{ status: number; peerCn: string; reused: boolean }> {
  return new Promise((resolve, reject) => {
    const body = JSON.stringify({ model: MODEL, messages: [{ role: "user", content: "hi" }] });
    const req = httpsRequest({
      host: "127.0.0.1", port, servername: "localhost", path: "/v1/chat/completions", method: "POST",
      ...(o.agent ? { agent: o.agent } : { agent: false, ca: o.ca, cert: o.cert, key: o.key }),
      headers: { "content-type": "application/json", authorization: `Bearer ${KEY}`, "content-length": Buffer.byteLength(body) },
      timeout: 10_000,
    }, (res) => {
      const peerCn = String((res.socket as TLSSocket).getPeerCertificate().subject?.CN ?? "");
      res.resume();
      res.on("end", () => resolve({ status: res.statusCode ?? 0, peerCn, reused: req.reusedSocket }));
      res.on("error", reject);
    });
    req.on("error", reject);
    req.on("timeout", () => req.destroy(new Error("timeout")));
    req.end(body);
  });
}

function openStream(port: number, ca: Buffer): { firstChunk: Promise<void>; done: Promise<string> } {
  let first!: () => void;
  const firstChunk = new Promise<void>((r) => (first = r));
  const done = new Promise<string>((resolve, reject) => {
    const body = JSON.stringify({ model: MODEL, stream: true, messages: [{ role: "user", content: "hi" }] });
    const req = httpsRequest({
      host: "127.0.0.1", port, servername: "localhost", path: "/v1/chat/completions", method: "POST", agent: false, ca,
      headers: { "content-type": "application/json", authorization: `Bearer ${KEY}`, "content-length": Buffer.byteLength(body) },
    }, (res) => {
      let text = "";
      res.on("data", (c: Buffer) => {
        text += c.toString();
        first();
      });
      res.on("end", () => resolve(text));
      res.on("error", reject);
    });
    req.on("error", reject);
    req.end(body);
  });
  return { firstChunk, done };
}

test("scheduler over TLS: its certificate must chain to scheduler.ca; an impostor never sees the gateway's token", async (t) => {
  const table: RouteTable = { version: 3, generatedAt: Date.now(), models: [{ name: MODEL, regions: ["eu-central-1"] }], entries: [] };
  const token = "sched-reader-token";
  const d = await mkdtemp(join(dir, "sched-"));
  await writeFile(join(d, "token"), token);
  const scheduler = await startFakeScheduler({ token, table, tls: schedulerCert });
  t.after(() => scheduler.close());
  const start = async (ca: string | undefined) => {
    const { log, lines } = capturingLogger("debug");
    const config = GatewayConfig.parse({
      id: "gw-sched-tls", homeRegion: "eu-central-1",
      listen: { host: "127.0.0.1", port: 0, plaintext: true },
      scheduler: { url: scheduler.url, token: { file: join(d, "token") }, watchTimeoutMs: 1000, ...(ca ? { ca } : {}) },
      tenants: [{ id: "acme", regions: ["eu-central-1"], apiKeys: [{ id: "k", sha256: sha256Hex(KEY) }] }],
      audit: { file: join(await mkdtemp(join(d, "a-")), "audit.jsonl") },
    });
    const gateway = await startGateway(config, { log });
    t.after(() => gateway.close());
    return { gateway, lines };
  };

  const good = await start(schedulerCa.cert);
  await waitFor(() => good.gateway.routes().version === 3, { timeoutMs: 5000, what: "the table over verified TLS" });
  await good.gateway.close();
  const served = scheduler.stats.requests;
  assert.ok(served >= 1);

  // The wrong CA, and the system CAs (no scheduler.ca): the scheduler is not trusted.
  for (const ca of [serverCa.cert, undefined]) {
    const bad = await start(ca);
    const failures = () => bad.lines.filter((l) => l.msg === "route watch failed; keeping the last good table");
    await waitFor(() => failures().length >= 2, { timeoutMs: 10_000, what: "the watch to fail twice" });
    assert.match(String(failures()[0]!.err), /certificate|self[- ]signed|verify/i);
    assert.equal(bad.gateway.routes().version, 0, "nothing adopted from an unverified scheduler");
    assert.equal((await fetch(`${bad.gateway.url}/readyz`)).status, 503);
    await bad.gateway.close();
  }
  // Every handshake failed before any HTTP: no request, so no token, reached the untrusted peer.
  assert.equal(scheduler.stats.requests, served);
});

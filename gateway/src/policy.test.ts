import { test } from "node:test";
import assert from "node:assert/strict";
import { readFile, writeFile } from "node:fs/promises";
import { join } from "node:path";
import { AuditRecord, GatewayConfig } from "@enclave/contracts";
import { createLogger, sha256Hex, waitFor } from "@enclave/runtime";
import { exportJWK, generateKeyPair, SignJWT } from "jose";
import { startGateway } from "./gateway.js";
import { startFakeEngine } from "./testing/fake-engine.js";
import { KEYS, MODEL, startHarness, type Harness } from "./testing/harness.js";

async function records(h: Harness): Promise<AuditRecord[]> {
  const text = await readFile(h.auditFile, "utf8").catch(() => "");
  return text.split("\n").filter(Boolean).map((l) => AuditRecord.parse(JSON.parse(l)));
}
const metrics = async (url: string) => (await fetch(`${url}/metrics`)).text();
const PII = "Mail jane.doe@example.com, card 4111 1111 1111 1111, from 10.1.2.3";

test("PII is redacted before the request leaves, in the answer when asked, and counted without values", async (t) => {
  const h = await startHarness(t, [{ name: "echo", region: "eu-central-1", mode: "echo" }], { tenant: { redact: ["email", "card", "ipv4"], redactResponses: true } });
  const res = await h.chat({ model: MODEL, messages: [{ role: "user", content: PII }], extra_field: { kept: true } });
  assert.equal(res.status, 200);
  const body = await res.json() as { choices: { message: { content: string } }[] };
  const sent = JSON.parse(h.engines.get("echo")!.requests[0]!.body.toString()) as { messages: { content: string }[]; extra_field: unknown };
  assert.equal(sent.messages[0]!.content, "Mail [REDACTED_EMAIL], card [REDACTED_CARD], from [REDACTED_IP]");
  assert.deepEqual(sent.extra_field, { kept: true }, "unknown fields pass through");
  assert.equal(body.choices[0]!.message.content, sent.messages[0]!.content);
  const [r] = await records(h);
  assert.deepEqual(r!.redactions, { email: 1, card: 1, ipv4: 1 });
  assert.equal(r!.bodySha256, sha256Hex(JSON.stringify({ model: MODEL, messages: [{ role: "user", content: PII }], extra_field: { kept: true } })));
  const audit = await readFile(h.auditFile, "utf8");
  assert.doesNotMatch(audit, /jane|4111|10\.1\.2\.3/);
  const m = await metrics(h.gateway.url);
  assert.match(m, /enclave_gateway_redactions_total\{class="email",direction="request"[^}]*\} 1/);
  assert.doesNotMatch(m, /jane/);
});

test("a streamed answer is redacted even when a value is split across chunks", async (t) => {
  const h = await startHarness(t, [{ name: "echo", region: "eu-central-1", mode: "sseEcho" }], { tenant: { redact: ["email"], redactResponses: true } });
  // The engine echoes 3 characters per chunk: the address spans several chunks. The request itself is
  // sent raw here by giving this tenant no request redaction for the one value it echoes.
  const res = await h.chat({ model: MODEL, stream: true, messages: [{ role: "user", content: "reach me at bob@corp.example.org please" }] });
  const text = await res.text();
  let content = "";
  for (const line of text.split("\n")) {
    if (!line.startsWith("data: {")) continue;
    content += (JSON.parse(line.slice(6)) as { choices: { delta: { content?: string } }[] }).choices[0]?.delta.content ?? "";
  }
  assert.equal(content, "reach me at [REDACTED_EMAIL] please");
  assert.ok(text.endsWith("data: [DONE]\n\n"));
});

test("requests beyond the concurrency and queue limits get 429 with Retry-After", async (t) => {
  const h = await startHarness(t, [{ name: "slow", region: "eu-central-1", mode: "sse" }], { config: { limits: { maxConcurrent: 1, maxQueue: 0, queueTimeoutMs: 1000 } } });
  const engine = h.engines.get("slow")!;
  engine.holdAfterFirst = true;
  const first = await h.chat({ model: MODEL, stream: true, messages: [{ role: "user", content: "a" }] });
  const reader = first.body!.getReader();
  await reader.read();
  const second = await h.chat({ model: MODEL, messages: [{ role: "user", content: "b" }] });
  assert.equal(second.status, 429);
  assert.equal(second.headers.get("retry-after"), "1");
  assert.equal(((await second.json()) as { error: { code: string; type: string } }).error.code, "rate_limit_exceeded");
  engine.release();
  while (!(await reader.read()).done);
  assert.match(await metrics(h.gateway.url), /enclave_gateway_shed_total\{reason="queue_full"[^}]*\} 1/);
  const rs = await records(h);
  assert.deepEqual(rs.map((r) => r.status).sort(), [200, 429]);
});

test("a tenant's requests-per-minute limit answers 429 with the wait", async (t) => {
  const h = await startHarness(t, [{ name: "e", region: "eu-central-1" }], { tenant: { rateLimits: { requestsPerMinute: 2 } } });
  for (let i = 0; i < 2; i++) assert.equal((await h.chat({ model: MODEL, messages: [{ role: "user", content: `x${i}` }] })).status, 200);
  const third = await h.chat({ model: MODEL, messages: [{ role: "user", content: "x" }] });
  assert.equal(third.status, 429);
  assert.equal(third.headers.get("retry-after"), "30");
  const other = await h.chat({ model: MODEL, messages: [{ role: "user", content: "x" }] }, { key: KEYS.euOnly });
  assert.equal(other.status, 200, "another tenant has its own budget");
});

test("jurisdictions narrow the allowed set like regions do", async (t) => {
  const h = await startHarness(t, [{ name: "eu", region: "eu-central-1" }, { name: "us", region: "us-east-1" }], {
    tenant: { regions: ["eu-central-1", "us-east-1"], jurisdictions: ["US"] },
  });
  for (let i = 0; i < 6; i++) {
    const res = await h.chat({ model: MODEL, messages: [{ role: "user", content: `q${i}` }] });
    assert.equal(res.headers.get("x-enclave-region"), "us-east-1");
    await res.arrayBuffer();
  }
  assert.equal(h.engines.get("eu")!.requests.length, 0);
  const narrowed = await h.chat({ model: MODEL, messages: [{ role: "user", content: "q" }] }, { headers: { "x-enclave-region": "eu-central-1" } });
  assert.equal(narrowed.status, 503, "EU region allowed, but no US-jurisdiction backend there");
});

test("a backend that keeps failing is taken out by its breaker, and comes back after a probe", async (t) => {
  const openMs = 2000;
  const h = await startHarness(t, [{ name: "bad", region: "eu-central-1", mode: "status500" }, { name: "good", region: "eu-central-1" }], {
    config: { breaker: { failureThreshold: 2, openMs } },
  });
  const bad = h.engines.get("bad")!;
  const ask = async (tag: string) => (await h.chat({ model: MODEL, messages: [{ role: "user", content: tag }] })).arrayBuffer();
  for (let i = 0; i < 60 && bad.requests.length < 2; i++) await ask(`a${i}`);
  const openedAt = Date.now();
  assert.equal(bad.requests.length, 2);
  assert.match(await metrics(h.gateway.url), /enclave_gateway_breaker_state\{backend="node-bad[^"]*"[^}]*\} 1/);
  for (let i = 0; i < 10; i++) await ask(`b${i}`);
  // Only meaningful while the circuit is surely still open (a loaded machine may be slow).
  if (Date.now() - openedAt < openMs) assert.equal(bad.requests.length, 2, "two faults open the circuit; then it gets nothing");
  bad.mode = "json";
  // The breaker's own clock: openMs must pass before it lets a probe through.
  await waitFor(() => Date.now() - openedAt > openMs, { timeoutMs: openMs + 1000, intervalMs: 50, what: "the open period to pass" });
  for (let i = 0; i < 60 && bad.requests.length <= 3; i++) await ask(`c${i}`);
  assert.ok(bad.requests.length > 3, "closed again after a good probe");
});

test("completions and embeddings are routed with the same policy path", async (t) => {
  const h = await startHarness(t, [{ name: "e", region: "eu-central-1", mode: "embedding" }], { tenant: { redact: ["email"] } });
  const post = (path: string, body: unknown) => fetch(`${h.gateway.url}${path}`, { method: "POST", headers: { authorization: `Bearer ${KEYS.acme}`, "content-type": "application/json" }, body: JSON.stringify(body) });
  const emb = await post("/v1/embeddings", { model: MODEL, input: ["a@b.io", "plain"] });
  assert.equal(emb.status, 200);
  assert.equal(((await emb.json()) as { object: string }).object, "list");
  const comp = await post("/v1/completions", { model: MODEL, prompt: "to x@y.org" });
  assert.equal(comp.status, 200);
  await comp.arrayBuffer();
  const seen = h.engines.get("e")!.requests;
  assert.deepEqual(seen.map((r) => r.url), ["/v1/embeddings", "/v1/completions"]);
  assert.deepEqual((JSON.parse(seen[0]!.body.toString()) as { input: string[] }).input, ["[REDACTED_EMAIL]", "plain"]);
  assert.equal((JSON.parse(seen[1]!.body.toString()) as { prompt: string }).prompt, "to [REDACTED_EMAIL]");
  const bad = await post("/v1/embeddings", { model: MODEL, input: { not: "text" } });
  assert.equal(bad.status, 400);
  assert.equal(((await bad.json()) as { error: { param: string } }).error.param, "input");
  const rs = await records(h);
  assert.deepEqual(rs.map((r) => r.action), ["embeddings", "completions", "embeddings"]);
});

test("static routes: no scheduler, JWT principals from a local JWKS that reloads", async (t) => {
  const engine = await startFakeEngine("static");
  t.after(() => engine.close());
  const h = await startHarness(t, [], { initialTable: false });
  await h.gateway.close();
  const { privateKey, publicKey } = await generateKeyPair("ES256");
  const jwk = { ...(await exportJWK(publicKey)), kid: "k1", alg: "ES256" };
  const jwksFile = join(h.dir, "jwks.json");
  await writeFile(jwksFile, JSON.stringify({ keys: [jwk] }));
  const config = GatewayConfig.parse({
    homeRegion: "eu-central-1",
    listen: { port: 0, plaintext: true },
    logLevel: "silent",
    staticRoutes: [{ id: "vllm-a", model: MODEL, region: "eu-central-1", jurisdiction: "EU", url: engine.url }],
    tenants: [{ id: "acme", regions: ["eu-central-1"], apiKeys: [{ id: "k", sha256: sha256Hex(KEYS.acme) }] }],
    auth: { jwt: { jwksFile, issuer: "https://idp.test", audience: "enclave" }, reloadIntervalMs: 100000 },
    audit: { file: join(h.dir, "static-audit.jsonl") },
  });
  const gw = await startGateway(config, { log: createLogger("t", "silent") });
  t.after(() => gw.close());
  const sign = (claims: Record<string, unknown>, key = privateKey, kid = "k1", exp: string | number = "5m") =>
    new SignJWT(claims).setProtectedHeader({ alg: "ES256", kid }).setIssuer("https://idp.test").setAudience("enclave").setSubject("alice").setIssuedAt().setExpirationTime(exp).sign(key);
  const call = (token: string) => fetch(`${gw.url}/v1/chat/completions`, { method: "POST", headers: { authorization: `Bearer ${token}`, "content-type": "application/json" }, body: JSON.stringify({ model: MODEL, messages: [{ role: "user", content: "hi" }] }) });
  const ok = await call(await sign({ tenant: "acme" }));
  assert.equal(ok.status, 200);
  assert.equal(ok.headers.get("x-enclave-backend"), "vllm-a");
  await ok.arrayBuffer();
  assert.equal((await call(await sign({ tenant: "nobody" }))).status, 401);
  assert.equal((await call(await sign({ tenant: "acme" }, privateKey, "k1", Math.floor(Date.now() / 1000) - 3600))).status, 401, "expired");
  assert.equal((await call(KEYS.acme)).status, 200, "API keys still work beside JWTs");
  // Key rotation: a new key is unknown until the JWKS file is reloaded.
  const next = await generateKeyPair("ES256");
  const token2 = await sign({ tenant: "acme" }, next.privateKey, "k2");
  assert.equal((await call(token2)).status, 401);
  await writeFile(jwksFile, JSON.stringify({ keys: [jwk, { ...(await exportJWK(next.publicKey)), kid: "k2", alg: "ES256" }] }));
  await gw.reload();
  assert.equal((await call(token2)).status, 200);
  const audit = (await readFile(join(h.dir, "static-audit.jsonl"), "utf8")).split("\n").filter(Boolean).map((l) => AuditRecord.parse(JSON.parse(l)));
  assert.equal(audit[0]!.principal, "jwt:alice");
  assert.equal(audit[0]!.tenant, "acme");
});

test("config: plain HTTP only when explicit, and exactly one route source", () => {
  const base = { homeRegion: "eu-central-1", tenants: [{ id: "a", regions: ["eu-central-1"] }], audit: { file: "/tmp/x" }, staticRoutes: [{ model: "m", region: "eu-central-1", jurisdiction: "EU", url: "http://127.0.0.1:1" }] };
  const paths = (c: unknown) => {
    const r = GatewayConfig.safeParse(c);
    return r.success ? [] : r.error.issues.map((i) => i.path.join("."));
  };
  assert.deepEqual(paths({ ...base, listen: { port: 1 } }), ["listen.tls"]);
  assert.deepEqual(paths({ ...base, listen: { port: 1, plaintext: true } }), []);
  assert.deepEqual(paths({ ...base, listen: { port: 1, tls: { cert: "c", key: "k", requireClientCert: true } } }), ["listen.tls.clientCa"]);
  assert.deepEqual(paths({ ...base, listen: { port: 1, plaintext: true }, scheduler: { url: "http://x:1", token: { env: "T" } } }), ["scheduler"]);
});

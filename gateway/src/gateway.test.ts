import { test } from "node:test";
import assert from "node:assert/strict";
import { readFile } from "node:fs/promises";
import { verifyAuditFile } from "@enclave/audit";
import { AuditRecord } from "@enclave/contracts";
import { sha256Hex, waitFor } from "@enclave/runtime";
import { FAKE_USAGE, sseChunk } from "./testing/fake-engine.js";
import { KEYS, MODEL, startHarness, type Harness } from "./testing/harness.js";

let seq = 0;
/** A fresh conversation each time, so prefix affinity spreads requests like independent clients. */
const chatBody = (extra: Record<string, unknown> = {}) => ({ model: MODEL, messages: [{ role: "user", content: `hi ${seq++}` }], ...extra });

async function auditRecords(h: Harness): Promise<AuditRecord[]> {
  const text = await readFile(h.auditFile, "utf8").catch(() => "");
  return text.split("\n").filter((l) => l !== "").map((l) => AuditRecord.parse(JSON.parse(l)));
}

/** Exactly `n` records, one per request, and an intact chain. */
async function assertAudit(h: Harness, n: number): Promise<AuditRecord[]> {
  const records = await auditRecords(h);
  assert.equal(records.length, n, `expected ${n} audit records, found ${records.length}`);
  const v = await verifyAuditFile(h.auditFile);
  assert.deepEqual(v.problems, []);
  assert.equal(v.ok, true);
  return records;
}

async function metricsText(h: Harness): Promise<string> {
  return (await fetch(`${h.gateway.url}/metrics`)).text();
}

test("a routed request carries where it was served, the engine's body, and no client credentials", async (t) => {
  const h = await startHarness(t, [{ name: "eu1", region: "eu-central-1" }]);
  // Odd spacing and an unknown field: the engine must get these exact bytes.
  const raw = `{"model": "${MODEL}",  "messages":[{"role":"user","content":"hi"}], "vendor_extension": {"keep": [1, 2]}}`;
  const res = await h.chat(undefined, { raw, headers: { cookie: "session=abc", accept: "application/json" } });
  assert.equal(res.status, 200);
  assert.equal(res.headers.get("x-enclave-region"), "eu-central-1");
  assert.equal(res.headers.get("x-enclave-backend"), h.entry("eu1").backendId);
  assert.equal(res.headers.get("x-engine"), "eu1");
  const body = await res.json() as { engine: string; usage: unknown };
  assert.equal(body.engine, "eu1");
  assert.deepEqual(body.usage, FAKE_USAGE);

  const seen = h.engines.get("eu1")!.requests;
  assert.equal(seen.length, 1);
  assert.equal(seen[0]!.url, "/v1/chat/completions");
  assert.equal(seen[0]!.body.toString(), raw);
  assert.equal(seen[0]!.headers.authorization, undefined);
  assert.equal(seen[0]!.headers.cookie, undefined);
  assert.equal(seen[0]!.headers["content-type"], "application/json");

  const [r] = await assertAudit(h, 1);
  assert.equal(r!.decision, "routed");
  assert.equal(r!.emitter, "gw-test");
  assert.equal(r!.tenant, "acme");
  assert.equal(r!.principal, "acme-key");
  assert.equal(r!.action, "chat.completions");
  assert.equal(r!.model, MODEL);
  assert.deepEqual(r!.allowedRegions, ["eu-central-1", "eu-west-1"]);
  assert.equal(r!.region, "eu-central-1");
  assert.equal(r!.nodeId, "node-eu1");
  assert.equal(r!.backendId, h.entry("eu1").backendId);
  assert.equal(r!.status, 200);
  assert.equal(r!.retries, 0);
  assert.equal(r!.promptTokens, FAKE_USAGE.prompt_tokens);
  assert.equal(r!.completionTokens, FAKE_USAGE.completion_tokens);
  assert.equal(r!.bodySha256, sha256Hex(raw));
  const auditText = await readFile(h.auditFile, "utf8");
  assert.doesNotMatch(auditText, /sk-acme|"hi"|session=abc/);

  const m = await metricsText(h);
  assert.match(m, new RegExp(`enclave_gateway_requests_total\\{model="${MODEL}",region="eu-central-1",status="200"[^}]*\\} 1`));
  assert.match(m, /enclave_gateway_route_table_version\{[^}]*\} 1/);
  assert.match(m, /enclave_gateway_inflight\{[^}]*\} 0/);
  assert.match(m, /enclave_gateway_request_duration_seconds_count\{[^}]*\} 1/);
  assert.doesNotMatch(m, /sk-acme/);
});

test("streams pass through chunk by chunk, and usage is taken from the final chunk", async (t) => {
  const h = await startHarness(t, [{ name: "eu1", region: "eu-central-1", mode: "sse" }]);
  const engine = h.engines.get("eu1")!;
  engine.holdAfterFirst = true;
  const res = await h.chat(chatBody({ stream: true, stream_options: { include_usage: true } }));
  assert.equal(res.status, 200);
  assert.equal(res.headers.get("content-type"), "text/event-stream");
  assert.equal(res.headers.get("x-enclave-region"), "eu-central-1");
  const reader = res.body!.getReader();
  const decoder = new TextDecoder();
  let text = "";
  // The engine has sent only its first chunk and waits: the client must already see it.
  while (!text.includes("\n\n")) {
    const { value, done } = await reader.read();
    assert.equal(done, false, "stream ended before the first chunk");
    text += decoder.decode(value, { stream: true });
  }
  assert.equal(text, sseChunk("eu1", 0, "first"));
  assert.deepEqual(await auditRecords(h), [], "audited before the stream ended");
  engine.release();
  for (;;) {
    const { value, done } = await reader.read();
    if (done) break;
    text += decoder.decode(value, { stream: true });
  }
  assert.ok(text.startsWith(sseChunk("eu1", 0, "first") + sseChunk("eu1", 1, " second")));
  assert.ok(text.endsWith("data: [DONE]\n\n"));
  const [r] = await assertAudit(h, 1);
  assert.equal(r!.decision, "routed");
  assert.equal(r!.promptTokens, FAKE_USAGE.prompt_tokens);
  assert.equal(r!.completionTokens, FAKE_USAGE.completion_tokens);
});

test("a backend busy with an open stream is not picked while an idle one is free", async (t) => {
  const h = await startHarness(t, [
    { name: "one", region: "eu-central-1", mode: "sse" },
    { name: "two", region: "eu-central-1", mode: "sse" },
  ]);
  for (const e of h.engines.values()) e.holdAfterFirst = true;
  const first = await h.chat(chatBody({ stream: true }));
  const busy = first.headers.get("x-enclave-backend");
  const reader = first.body!.getReader();
  await reader.read();
  for (let i = 0; i < 3; i++) {
    const res = await h.chat(chatBody());
    // Non-streaming requests on an sse engine still stream; release them as they come.
    const other = res.headers.get("x-enclave-backend");
    assert.notEqual(other, busy);
    for (const e of h.engines.values()) if (other?.startsWith(`node-${e.name}/`)) e.release();
    await res.arrayBuffer();
  }
  for (const e of h.engines.values()) e.release();
  while (!(await reader.read()).done);
  await assertAudit(h, 4);
});

test("an engine answering 500 is retried on the other allowed backend", async (t) => {
  const h = await startHarness(t, [
    { name: "bad", region: "eu-central-1", mode: "status500" },
    { name: "good", region: "eu-west-1" },
  ]);
  // Ties are broken at random: send until "bad" was tried first at least once (1 in 2 per request).
  let sent = 0;
  while (h.engines.get("bad")!.requests.length === 0 && sent < 40) {
    const res = await h.chat(chatBody());
    sent++;
    assert.equal(res.status, 200);
    assert.equal(res.headers.get("x-enclave-backend"), h.entry("good").backendId);
    assert.equal(((await res.json()) as { engine: string }).engine, "good");
  }
  const bad = h.engines.get("bad")!.requests.length;
  assert.ok(bad >= 1, "the failing engine was never tried");
  const records = await assertAudit(h, sent);
  assert.ok(records.every((r) => r.decision === "routed" && r.region === "eu-west-1"));
  assert.equal(records.at(-1)!.retries, 1);
  assert.equal(records.reduce((n, r) => n + r.retries, 0), bad);
  assert.match(await metricsText(h), new RegExp(`enclave_gateway_retries_total\\{[^}]*\\} ${bad}`));
});

test("a dead backend port is retried on the other allowed backend", async (t) => {
  const h = await startHarness(t, [
    { name: "dead", region: "eu-central-1", dead: true },
    { name: "alive", region: "eu-central-1" },
  ]);
  // Ties are broken at random: send until one request met the dead port first.
  let sent = 0;
  let retried = false;
  while (!retried && sent < 40) {
    const res = await h.chat(chatBody());
    sent++;
    assert.equal(res.status, 200);
    assert.equal(res.headers.get("x-enclave-backend"), h.entry("alive").backendId);
    await res.arrayBuffer();
    retried = (await auditRecords(h)).some((r) => r.retries === 1);
  }
  const records = await assertAudit(h, sent);
  assert.ok(records.every((r) => r.decision === "routed" && r.backendId === h.entry("alive").backendId));
  assert.equal(records.at(-1)!.retries, 1, "the dead backend was never tried");
});

test("an engine that sends no headers in time is retried on the other allowed backend", async (t) => {
  const h = await startHarness(t, [
    { name: "hangs", region: "eu-central-1", mode: "hang" },
    { name: "answers", region: "eu-west-1" },
  ], { headersTimeoutMs: 200 });
  let sent = 0;
  while (h.engines.get("hangs")!.requests.length === 0 && sent < 40) {
    const res = await h.chat(chatBody());
    sent++;
    assert.equal(res.status, 200);
    assert.equal(res.headers.get("x-enclave-backend"), h.entry("answers").backendId);
    await res.arrayBuffer();
  }
  const records = await assertAudit(h, sent);
  assert.equal(records.at(-1)!.retries, 1);
});

test("a client that goes away mid-stream frees the backend and is audited as failed", async (t) => {
  const h = await startHarness(t, [{ name: "eu1", region: "eu-central-1", mode: "sse" }]);
  const engine = h.engines.get("eu1")!;
  engine.holdAfterFirst = true;
  const abort = new AbortController();
  const res = await fetch(`${h.gateway.url}/v1/chat/completions`, {
    method: "POST",
    headers: { "content-type": "application/json", authorization: `Bearer ${KEYS.acme}` },
    body: JSON.stringify(chatBody({ stream: true })),
    signal: abort.signal,
  });
  const reader = res.body!.getReader();
  await reader.read();
  abort.abort();
  await waitFor(async () => (await auditRecords(h)).length === 1, { timeoutMs: 5000, what: "the audit record" });
  const [r] = await assertAudit(h, 1);
  assert.equal(r!.decision, "failed");
  assert.equal(r!.reason, "client_disconnected");
  await waitFor(async () => /enclave_gateway_inflight\{[^}]*\} 0/.test(await metricsText(h)), { timeoutMs: 5000, what: "inflight back to 0" });
  // The gateway still serves afterwards.
  engine.holdAfterFirst = false;
  engine.mode = "json";
  const ok = await h.chat(chatBody());
  assert.equal(ok.status, 200);
  await ok.arrayBuffer();
  await assertAudit(h, 2);
});

test("fail closed: all allowed backends down while another region is alive → 503, and that region gets nothing", async (t) => {
  const h = await startHarness(t, [
    { name: "eu-dead", region: "eu-central-1", dead: true },
    { name: "eu-500", region: "eu-central-1", mode: "status500" },
    { name: "us-alive", region: "us-east-1" },
  ]);
  const res = await h.chat(chatBody(), { key: KEYS.euOnly });
  assert.equal(res.status, 503);
  assert.deepEqual(await res.json(), {
    error: { message: `no backend in the allowed regions can serve model ${MODEL}`, type: "service_unavailable", param: null, code: "no_compliant_backend" },
  });
  assert.equal(h.engines.get("eu-500")!.requests.length, 1);
  assert.equal(h.engines.get("us-alive")!.requests.length, 0);
  // A tenant with no region where the model runs gets the same answer without any attempt.
  const res2 = await h.chat(chatBody(), { key: KEYS.acme, headers: { "x-enclave-region": "eu-west-1" } });
  assert.equal(res2.status, 503);
  assert.equal(((await res2.json()) as { error: { code: string } }).error.code, "no_compliant_backend");
  assert.equal(h.engines.get("us-alive")!.requests.length, 0);

  const [r1, r2] = await assertAudit(h, 2);
  assert.equal(r1!.decision, "denied");
  assert.equal(r1!.status, 503);
  assert.equal(r1!.retries, 1);
  assert.deepEqual(r1!.allowedRegions, ["eu-central-1"]);
  assert.equal(r1!.region, null);
  assert.equal(r1!.backendId, null);
  assert.match(r1!.reason, /^no_compliant_backend: /);
  assert.deepEqual(r2!.allowedRegions, ["eu-west-1"]);
  assert.match(await metricsText(h), /enclave_gateway_denials_total\{reason="no_compliant_backend"[^}]*\} 2/);
});

test("retries stop at maxRetries", async (t) => {
  const h = await startHarness(t, [
    { name: "a", region: "eu-central-1", mode: "status500" },
    { name: "b", region: "eu-central-1", mode: "status500" },
    { name: "c", region: "eu-central-1", mode: "status500" },
  ], { maxRetries: 1 });
  const res = await h.chat(chatBody());
  assert.equal(res.status, 503);
  const tried = ["a", "b", "c"].reduce((n, name) => n + h.engines.get(name)!.requests.length, 0);
  assert.equal(tried, 2);
  const [r] = await assertAudit(h, 1);
  assert.equal(r!.retries, 1);
});

test("x-enclave-region narrows the allowed set and can never widen it", async (t) => {
  const h = await startHarness(t, [
    { name: "central", region: "eu-central-1" },
    { name: "west", region: "eu-west-1" },
    { name: "us", region: "us-east-1" },
  ]);
  for (let i = 0; i < 5; i++) {
    const res = await h.chat(chatBody(), { headers: { "x-enclave-region": "eu-west-1" } });
    assert.equal(res.status, 200);
    assert.equal(res.headers.get("x-enclave-region"), "eu-west-1");
    await res.arrayBuffer();
  }
  assert.equal(h.engines.get("west")!.requests.length, 5);
  assert.equal(h.engines.get("central")!.requests.length, 0);

  const wider = await h.chat(chatBody(), { headers: { "x-enclave-region": "eu-west-1,us-east-1" } });
  assert.equal(wider.status, 403);
  const body = await wider.json() as { error: { code: string; type: string } };
  assert.equal(body.error.code, "region_not_allowed");
  const empty = await h.chat(chatBody(), { headers: { "x-enclave-region": " , " } });
  assert.equal(empty.status, 403);
  await empty.arrayBuffer();
  assert.equal(h.engines.get("us")!.requests.length, 0);

  const records = await assertAudit(h, 7);
  assert.deepEqual(records.slice(0, 5).map((r) => r.allowedRegions), Array(5).fill(["eu-west-1"]));
  assert.equal(records[5]!.decision, "denied");
  assert.equal(records[5]!.reason, "region_not_allowed");
  assert.equal(records[5]!.status, 403);
});

test("401, 400, 404 and 413 answer in the OpenAI error shape, and each is audited once", async (t) => {
  const h = await startHarness(t, [{ name: "eu1", region: "eu-central-1" }], { bodyLimitBytes: 2048 });
  const expectError = async (res: Response, status: number, code: string, type = "invalid_request_error") => {
    assert.equal(res.status, status);
    assert.match(res.headers.get("content-type") ?? "", /^application\/json/);
    const b = await res.json() as { error: Record<string, unknown> };
    assert.deepEqual(Object.keys(b), ["error"]);
    assert.equal(b.error.code, code);
    assert.equal(b.error.type, type);
    assert.ok("param" in b.error && typeof b.error.message === "string");
    return b.error;
  };
  await expectError(await h.chat(chatBody(), { key: null }), 401, "invalid_api_key");
  await expectError(await h.chat(chatBody(), { key: "sk-wrong" }), 401, "invalid_api_key");
  await expectError(await h.chat(undefined, { raw: "{not json" }), 400, "invalid_json");
  await expectError(await h.chat(undefined, { raw: "[1,2]" }), 400, "invalid_json");
  const missing = await expectError(await h.chat({ model: MODEL }), 400, "invalid_body");
  assert.equal(missing.param, "messages");
  await expectError(await h.chat({ messages: [] }), 400, "invalid_body");
  const unknown = await expectError(await h.chat(chatBody({ model: "no-such-model" })), 404, "model_not_found");
  const notAllowed = await expectError(await h.chat(chatBody(), { key: KEYS.limited }), 404, "model_not_found");
  assert.equal(unknown.message, "The model 'no-such-model' does not exist or you do not have access to it.");
  assert.equal(notAllowed.message, `The model '${MODEL}' does not exist or you do not have access to it.`);
  await expectError(await h.chat(chatBody({ pad: "x".repeat(4000) })), 413, "request_too_large");
  // Unauthenticated and too large: authentication answers first, before the body is read.
  await expectError(await h.chat(chatBody({ pad: "x".repeat(4000) }), { key: null }), 401, "invalid_api_key");
  assert.equal(h.engines.get("eu1")!.requests.length, 0);

  const records = await assertAudit(h, 10);
  assert.deepEqual(records.map((r) => [r.decision, r.status, r.reason.split(":")[0]]), [
    ["denied", 401, "invalid_api_key"],
    ["denied", 401, "invalid_api_key"],
    ["denied", 400, "invalid_json"],
    ["denied", 400, "invalid_json"],
    ["denied", 400, "invalid_body"],
    ["denied", 400, "invalid_body"],
    ["denied", 404, "model_not_found"],
    ["denied", 404, "model_not_found"],
    ["denied", 413, "request_too_large"],
    ["denied", 401, "invalid_api_key"],
  ]);
  assert.equal(records[0]!.tenant, null);
  assert.equal(records[0]!.principal, null);
  assert.equal(records[6]!.model, "no-such-model");
  assert.equal(records[7]!.tenant, "limited");
  assert.equal(records[8]!.tenant, "acme");
  assert.ok(records.every((r) => r.region === null && r.backendId === null));
  assert.equal(records[2]!.bodySha256, sha256Hex("{not json"));
  const m = await metricsText(h);
  assert.match(m, /enclave_gateway_denials_total\{reason="invalid_api_key"[^}]*\} 3/);
  assert.match(m, /enclave_gateway_denials_total\{reason="model_not_found"[^}]*\} 2/);
  assert.doesNotMatch(m, /no-such-model/, "client-chosen names must not become metric labels");
});

test("a stream that breaks after bytes were sent ends with a terminal error event, is not retried, and is audited as failed", async (t) => {
  const h = await startHarness(t, [
    { name: "breaks", region: "eu-central-1", mode: "break" },
    { name: "spare", region: "eu-central-1", mode: "sse" },
  ]);
  // Until the breaking engine was picked (affinity and load pick either).
  let text = "";
  for (let i = 0; i < 40 && h.engines.get("breaks")!.requests.length === 0; i++) {
    const res = await h.chat(chatBody({ stream: true }));
    assert.equal(res.status, 200);
    text = await res.text();
  }
  assert.ok(text.startsWith(sseChunk("breaks", 0, "partial")), text);
  assert.match(text, /\n\nevent: error\ndata: \{"error":\{[^\n]*"code":"upstream_stream_broken"\}\}\n\n$/);
  const records = await auditRecords(h);
  const r = records.at(-1)!;
  assert.equal(r.decision, "failed");
  assert.match(r.reason, /^upstream_broken/);
  assert.equal(r.backendId, h.entry("breaks").backendId);
  assert.equal(r.retries, 0);
  assert.equal(h.engines.get("breaks")!.requests.length, 1);
});

test("a JSON answer that breaks off mid-body is a 502, none of it is sent, and it is audited as failed", async (t) => {
  const h = await startHarness(t, [{ name: "eu1", region: "eu-central-1", mode: "breakJson" }]);
  const res = await h.chat(chatBody());
  assert.equal(res.status, 502);
  const body = await res.json() as { error: { code: string } };
  assert.equal(body.error.code, "upstream_error");
  const [r] = await assertAudit(h, 1);
  assert.equal(r!.decision, "failed");
  assert.equal(r!.status, 502);
  assert.match(r!.reason, /^upstream_broken: /);
});

test("GET /v1/models lists what the caller may use where it may run", async (t) => {
  const h = await startHarness(t, [
    { name: "eu1", region: "eu-central-1" },
    { name: "us1", region: "us-east-1", model: "us-only-model" },
    { name: "small", region: "eu-central-1", model: "small-model" },
  ]);
  const get = (key: string | null) => fetch(`${h.gateway.url}/v1/models`, { headers: key ? { authorization: `Bearer ${key}` } : {} });
  const acme = await (await get(KEYS.acme)).json() as { object: string; data: { id: string }[] };
  assert.equal(acme.object, "list");
  assert.deepEqual(acme.data.map((m) => m.id), [MODEL, "small-model"]);
  const limited = await (await get(KEYS.limited)).json() as { data: { id: string }[] };
  assert.deepEqual(limited.data.map((m) => m.id), ["small-model"]);
  const anon = await get(null);
  assert.equal(anon.status, 401);
  assert.equal(((await anon.json()) as { error: { code: string } }).error.code, "invalid_api_key");
  const records = await assertAudit(h, 1);
  assert.equal(records[0]!.action, "models.list");
});

test("unknown routes answer an OpenAI-style 404; health and readiness are served", async (t) => {
  const h = await startHarness(t, [{ name: "eu1", region: "eu-central-1" }]);
  const res = await fetch(`${h.gateway.url}/v1/audio/speech`, { method: "POST" });
  assert.equal(res.status, 404);
  assert.deepEqual(((await res.json()) as { error: { code: string } }).error.code, "unknown_url");
  assert.equal((await fetch(`${h.gateway.url}/healthz`)).status, 200);
  assert.equal((await fetch(`${h.gateway.url}/readyz`)).status, 200);
  await assertAudit(h, 0);
});

test("before the first route table: not ready, and requests are refused with 503", async (t) => {
  const h = await startHarness(t, [{ name: "eu1", region: "eu-central-1" }], { initialTable: false });
  const ready = await fetch(`${h.gateway.url}/readyz`);
  assert.equal(ready.status, 503);
  await ready.arrayBuffer();
  const res = await h.chat(chatBody());
  assert.equal(res.status, 503);
  assert.equal(((await res.json()) as { error: { code: string } }).error.code, "not_ready");
  assert.match(await metricsText(h), /enclave_gateway_route_table_age_seconds\{[^}]*\} \+Inf/);
  h.scheduler.setTable(h.table);
  await waitFor(async () => (await fetch(`${h.gateway.url}/readyz`)).status === 200, { timeoutMs: 10000, what: "readiness" });
  const ok = await h.chat(chatBody());
  assert.equal(ok.status, 200);
  await ok.arrayBuffer();
  await assertAudit(h, 2);
});

test("the route watch adopts new versions within 1 s and keeps the last good table when the scheduler fails", async (t) => {
  const h = await startHarness(t, [
    { name: "central", region: "eu-central-1" },
    { name: "west", region: "eu-west-1" },
  ]);
  assert.ok(h.scheduler.stats.requests >= 1);
  assert.equal(h.scheduler.stats.unauthorized, 0, "the gateway must send the scheduler token");
  const onlyWest = { ...h.table, version: 2, entries: h.table.entries.filter((e) => e.region === "eu-west-1") };
  const changedAt = Date.now();
  h.scheduler.setTable(onlyWest);
  await waitFor(() => h.gateway.routes().version === 2, { timeoutMs: 1000, intervalMs: 10, what: "version 2" });
  assert.ok(Date.now() - changedAt < 1000);
  assert.deepEqual(h.gateway.routes().entries.map((e) => e.region), ["eu-west-1"]);

  // Garbage and an older version are ignored; the table stays at 2.
  h.scheduler.sendRawOnce("{definitely not a table");
  h.scheduler.setTable({ ...h.table, version: 1 });
  await waitFor(() => h.scheduler.stats.requests >= 5, { timeoutMs: 10000, what: "more polls" });
  assert.equal(h.gateway.routes().version, 2);

  // The scheduler goes away: the last good table keeps serving.
  await h.scheduler.close();
  const res = await h.chat(chatBody());
  assert.equal(res.status, 200);
  assert.equal(res.headers.get("x-enclave-region"), "eu-west-1");
  await res.arrayBuffer();
  assert.equal(h.gateway.routes().version, 2);
  assert.equal((await fetch(`${h.gateway.url}/readyz`)).status, 200);
  await assertAudit(h, 1);
});

test("the route watch reconnects to a restarted scheduler and picks up its newer table", async (t) => {
  const h = await startHarness(t, [{ name: "central", region: "eu-central-1" }]);
  const { startFakeScheduler } = await import("./testing/fake-scheduler.js");
  const port = h.scheduler.port;
  await h.scheduler.close();
  const restarted = await startFakeScheduler({ token: "sched-token-test", table: { ...h.table, version: 7 }, port });
  t.after(() => restarted.close());
  await waitFor(() => h.gateway.routes().version === 7, { timeoutMs: 10000, what: "version 7 after the restart" });
  assert.match(await metricsText(h), /enclave_gateway_route_table_version\{[^}]*\} 7/);
});

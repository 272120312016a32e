import { test, type TestContext } from "node:test";
import assert from "node:assert/strict";
import { createServer, type IncomingMessage } from "node:http";
import type { AddressInfo } from "node:net";
import { HttpSinkConfig } from "@enclave/contracts";
import type { SpooledEntry } from "../spool/spool-reader.js";
import { httpSink } from "./http-sink.js";

interface Received {
  headers: IncomingMessage["headers"];
  body: string;
}

async function collector(t: TestContext, status: () => number) {
  const received: Received[] = [];
  const server = createServer((req, res) => {
    let body = "";
    req.setEncoding("utf8");
    req.on("data", (c: string) => (body += c));
    req.on("end", () => {
      received.push({ headers: req.headers, body });
      res.writeHead(status(), { "content-type": "text/plain" }).end(status() >= 300 ? "x".repeat(2000) : "ok");
    });
  });
  await new Promise<void>((r) => server.listen(0, "127.0.0.1", r));
  t.after(() => new Promise<void>((r) => server.close(() => r())));
  return { url: `http://127.0.0.1:${(server.address() as AddressInfo).port}/ingest`, received };
}

const entries = (n: number): SpooledEntry[] =>
  Array.from({ length: n }, (_, i) => ({ json: JSON.stringify({ seq: i, s: "✓" }), kind: "record", seq: i, time: "t", emitter: "gw", chain: "c", end: { segment: "", offset: 0 } }));

test("posts the stored entries as JSON lines with the bearer token; a 2xx acknowledges", async (t) => {
  const c = await collector(t, () => 204);
  process.env.ENCLAVE_TEST_AUDIT_TOKEN = "tok-123";
  t.after(() => delete process.env.ENCLAVE_TEST_AUDIT_TOKEN);
  const sink = httpSink(HttpSinkConfig.parse({ type: "http", url: c.url, token: { env: "ENCLAVE_TEST_AUDIT_TOKEN" } }));
  assert.equal(sink.name, `http://${new URL(c.url).host}/ingest`);
  await sink.deliver(entries(3), AbortSignal.timeout(5000));
  assert.equal(c.received.length, 1);
  assert.equal(c.received[0]!.headers["content-type"], "application/x-ndjson");
  assert.equal(c.received[0]!.headers.authorization, "Bearer tok-123");
  assert.deepEqual(c.received[0]!.body.trimEnd().split("\n").map((l) => JSON.parse(l).seq), [0, 1, 2]);
});

test("any other status fails the delivery, quoting a bounded part of the answer and never the token", async (t) => {
  const c = await collector(t, () => 503);
  process.env.ENCLAVE_TEST_AUDIT_TOKEN = "tok-secret";
  t.after(() => delete process.env.ENCLAVE_TEST_AUDIT_TOKEN);
  const sink = httpSink(HttpSinkConfig.parse({ type: "http", url: c.url, token: { env: "ENCLAVE_TEST_AUDIT_TOKEN" } }));
  await assert.rejects(sink.deliver(entries(1), AbortSignal.timeout(5000)), (e: Error) => {
    assert.match(e.message, /collector answered HTTP 503/);
    assert.ok(e.message.length < 700);
    assert.doesNotMatch(e.message, /tok-secret/);
    return true;
  });
  await assert.rejects(httpSink(HttpSinkConfig.parse({ type: "http", url: "http://127.0.0.1:1/x" })).deliver(entries(1), AbortSignal.timeout(5000)), /ECONNREFUSED/);
});

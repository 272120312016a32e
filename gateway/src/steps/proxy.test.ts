import { test } from "node:test";
import assert from "node:assert/strict";
import type { RouteEntry } from "@enclave/contracts";
import { clientHeaders, shouldRetry, upstreamHeaders } from "./proxy.js";

test("retry on transport errors and 5xx, pass 2xx-4xx through", () => {
  assert.equal(shouldRetry({ kind: "error", error: new Error("ECONNREFUSED") }), true);
  for (const s of [500, 502, 503, 504]) assert.equal(shouldRetry({ kind: "status", status: s }), true);
  for (const s of [200, 201, 400, 404, 413, 429]) assert.equal(shouldRetry({ kind: "status", status: s }), false);
});

test("engines get a whitelist of headers: never credentials or cookies", () => {
  const h = upstreamHeaders({
    authorization: "Bearer sk-secret", cookie: "session=1", "x-enclave-region": "eu-west-1", "x-forwarded-for": "1.2.3.4",
    "content-type": "application/json; charset=utf-8", accept: "text/event-stream",
  });
  assert.deepEqual(h, { "content-type": "application/json; charset=utf-8", accept: "text/event-stream" });
  assert.deepEqual(upstreamHeaders({}), { "content-type": "application/json", accept: "*/*" });
  assert.equal(upstreamHeaders({ "content-type": "text/plain" })["content-type"], "application/json");
});

test("clients get the engine's headers minus hop-by-hop ones, plus where it was served", () => {
  const entry: RouteEntry = { backendId: "n1/d/eu-west-1/0/g1", nodeId: "n1", model: "m", engine: "vllm", region: "eu-west-1", jurisdiction: "EU", url: "http://x:1", load: null };
  const h = clientHeaders({ "content-type": "text/event-stream", connection: "keep-alive", "transfer-encoding": "chunked", "x-enclave-region": "us-east-1", "x-request-id": "r1" }, entry);
  assert.deepEqual(h, { "content-type": "text/event-stream", "x-request-id": "r1", "x-enclave-region": "eu-west-1", "x-enclave-backend": "n1/d/eu-west-1/0/g1" });
});

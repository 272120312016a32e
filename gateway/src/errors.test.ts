import { test } from "node:test";
import assert from "node:assert/strict";
import * as errors from "./errors.js";

test("error bodies have exactly the OpenAI shape", () => {
  const all = [
    errors.missingApiKey(), errors.invalidApiKey(), errors.invalidJson("x"), errors.invalidBody("bad", "messages"),
    errors.requestTooLarge(1024), errors.modelNotFound("m"), errors.regionNotAllowed("no"), errors.noCompliantBackend("m", "detail"),
    errors.notReady(), errors.unknownUrl("GET", "/x"), errors.internalError("boom"),
  ];
  for (const e of all) {
    const body = errors.openAiErrorBody(e);
    assert.deepEqual(Object.keys(body), ["error"]);
    assert.deepEqual(Object.keys(body.error).sort(), ["code", "message", "param", "type"]);
    assert.equal(typeof body.error.message, "string");
    assert.ok(e.status >= 400 && e.status < 600);
  }
});

test("details reach the audit reason, never the client", () => {
  const e = errors.noCompliantBackend("llama", "b1: ECONNREFUSED");
  assert.deepEqual(errors.openAiErrorBody(e), {
    error: { message: "no backend in the allowed regions can serve model llama", type: "service_unavailable", param: null, code: "no_compliant_backend" },
  });
  assert.equal(e.status, 503);
  assert.equal(errors.auditReason(e), "no_compliant_backend: b1: ECONNREFUSED");
  assert.equal(errors.auditReason(errors.invalidApiKey()), "invalid_api_key");
  assert.doesNotMatch(JSON.stringify(errors.openAiErrorBody(errors.internalError("secret path"))), /secret/);
});

test("401, 404 and 413 carry the codes clients key on", () => {
  assert.deepEqual(errors.openAiErrorBody(errors.invalidApiKey()).error, {
    message: "Incorrect API key provided.", type: "invalid_request_error", param: null, code: "invalid_api_key",
  });
  const nf = errors.modelNotFound("gpt-x");
  assert.equal(nf.status, 404);
  assert.equal(nf.code, "model_not_found");
  assert.equal(nf.param, "model");
  assert.equal(errors.requestTooLarge(10).status, 413);
});

import { test } from "node:test";
import assert from "node:assert/strict";
import { validateChatBody } from "./validate.js";

const b = (s: string) => Buffer.from(s);

test("a chat request is accepted with its model and stream flag", () => {
  assert.deepEqual(validateChatBody(b('{"model":"m","messages":[],"x-unknown":{"deep":1}}'), 1000), { ok: true, value: { model: "m", stream: false } });
  assert.deepEqual(validateChatBody(b('{"model":"m","messages":[{"role":"user","content":"hi"}],"stream":true}'), 1000), { ok: true, value: { model: "m", stream: true } });
});

test("malformed JSON, empty bodies and non-objects are invalid_json", () => {
  for (const s of ["{", "", "[1]", '"m"', "null", "{\"model\":\"m\",}"]) {
    const r = validateChatBody(b(s), 1000);
    assert.equal(r.ok, false, s);
    if (!r.ok) {
      assert.equal(r.error.status, 400);
      assert.equal(r.error.code, "invalid_json");
    }
  }
  assert.equal(validateChatBody(undefined, 1000).ok, false);
});

test("missing or mistyped fields name the parameter", () => {
  const cases: [string, string][] = [
    ['{"messages":[]}', "model"],
    ['{"model":3,"messages":[]}', "model"],
    ['{"model":"","messages":[]}', "model"],
    ['{"model":"m"}', "messages"],
    ['{"model":"m","messages":"hi"}', "messages"],
    ['{"model":"m","messages":[],"stream":"yes"}', "stream"],
  ];
  for (const [s, param] of cases) {
    const r = validateChatBody(b(s), 1000);
    assert.equal(r.ok, false, s);
    if (!r.ok) {
      assert.equal(r.error.status, 400, s);
      assert.equal(r.error.param, param, s);
      assert.equal(r.error.type, "invalid_request_error");
    }
  }
});

test("a body over the limit is 413", () => {
  const r = validateChatBody(b(`{"model":"m","messages":[],"pad":"${"x".repeat(100)}"}`), 50);
  assert.equal(r.ok, false);
  if (!r.ok) assert.equal(r.error.status, 413);
});

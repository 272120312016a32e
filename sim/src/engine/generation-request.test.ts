import { test } from "node:test";
import assert from "node:assert/strict";
import { parseGenerationRequest } from "./generation-request.js";

const limits = { outputTokens: 16, maxModelLen: 8192 };
const chat = (body: unknown) => parseGenerationRequest("chat", typeof body === "string" ? body : JSON.stringify(body), "m", limits);

test("malformed JSON is a 400 that does not quote the body", () => {
  const r = chat('{"messages": [secret prompt');
  assert.ok(!r.ok);
  assert.equal(r.error.status, 400);
  assert.doesNotMatch(r.error.message, /secret/);
});

test("missing or empty messages, or wrong types, are 400 naming the field", () => {
  for (const body of [{ model: "m" }, { model: "m", messages: [] }, { model: "m", messages: [{ role: "user", content: 5 }] }, [], "x"]) {
    const r = chat(body);
    assert.ok(!r.ok, JSON.stringify(body));
    assert.equal(r.error.status, 400);
    assert.equal(r.error.type, "BadRequestError");
  }
  const r = chat({ model: "m" });
  assert.ok(!r.ok);
  assert.match(r.error.message, /messages/);
});

test("another model is 404 with vLLM's message; no model means the served one", () => {
  const r = chat({ model: "other", messages: [{ role: "user", content: "hi" }] });
  assert.ok(!r.ok);
  assert.deepEqual(r.error, { status: 404, type: "NotFoundError", message: "The model `other` does not exist." });
  assert.ok(chat({ messages: [{ role: "user", content: "hi" }] }).ok);
});

test("max_completion_tokens wins over max_tokens; unknown OpenAI parameters are accepted", () => {
  const r = chat({ model: "m", messages: [{ role: "user", content: "hi" }], max_tokens: 9, max_completion_tokens: 2, temperature: 0.2, top_p: 1 });
  assert.ok(r.ok);
  assert.equal(r.plan.completionTokens, 2);
});

test("completions take a prompt string or token ids, not a batch", () => {
  const ok = parseGenerationRequest("completion", JSON.stringify({ model: "m", prompt: "one two", max_tokens: 4 }), "m", limits);
  assert.ok(ok.ok);
  assert.deepEqual([ok.plan.promptTokens, ok.plan.completionTokens], [3, 4]);
  const batch = parseGenerationRequest("completion", JSON.stringify({ model: "m", prompt: ["a", "b"] }), "m", limits);
  assert.ok(!batch.ok);
  assert.equal(batch.error.status, 400);
});

import { test } from "node:test";
import assert from "node:assert/strict";
import { planGeneration, type PlanInput } from "./plan.js";

const limits = { outputTokens: 16, maxModelLen: 100 };
const input = (over: Partial<PlanInput> = {}): PlanInput => ({
  promptTokens: 10,
  maxTokens: undefined,
  n: undefined,
  ignoreEos: false,
  stream: false,
  streamOptions: undefined,
  ...over,
});

test("without max_tokens the model stops by itself after outputTokens", () => {
  const r = planGeneration(input(), limits);
  assert.ok(r.ok);
  assert.equal(r.plan.completionTokens, 16);
  assert.equal(r.plan.finishReason, "stop");
});

test("a max_tokens below outputTokens cuts the answer: finish_reason length", () => {
  const r = planGeneration(input({ maxTokens: 3 }), limits);
  assert.ok(r.ok);
  assert.equal(r.plan.completionTokens, 3);
  assert.equal(r.plan.finishReason, "length");
});

test("a max_tokens above outputTokens does not lengthen the answer", () => {
  const r = planGeneration(input({ maxTokens: 50 }), limits);
  assert.ok(r.ok);
  assert.equal(r.plan.completionTokens, 16);
  assert.equal(r.plan.finishReason, "stop");
});

test("ignore_eos generates up to max_tokens, or the context window without it", () => {
  const a = planGeneration(input({ maxTokens: 50, ignoreEos: true }), limits);
  assert.ok(a.ok);
  assert.deepEqual([a.plan.completionTokens, a.plan.finishReason], [50, "length"]);
  const b = planGeneration(input({ ignoreEos: true }), limits);
  assert.ok(b.ok);
  assert.deepEqual([b.plan.completionTokens, b.plan.finishReason], [90, "length"]);
});

test("the context window limits an answer without max_tokens", () => {
  const r = planGeneration(input({ promptTokens: 95 }), limits);
  assert.ok(r.ok);
  assert.deepEqual([r.plan.completionTokens, r.plan.finishReason], [5, "length"]);
});

test("prompt plus max_tokens beyond the context window is vLLM's 400", () => {
  const r = planGeneration(input({ promptTokens: 60, maxTokens: 50 }), limits);
  assert.ok(!r.ok);
  assert.equal(r.error.status, 400);
  assert.equal(r.error.type, "BadRequestError");
  assert.match(r.error.message, /maximum context length is 100 tokens\. However, you requested 110 tokens \(60 in the messages, 50 in the completion\)/);
});

test("a prompt that fills the context window is rejected", () => {
  const r = planGeneration(input({ promptTokens: 100 }), limits);
  assert.ok(!r.ok);
  assert.match(r.error.message, /your request has 100 input tokens/);
});

test("max_tokens below 1, n other than 1 and stream_options without stream are 400", () => {
  for (const bad of [input({ maxTokens: 0 }), input({ n: 2 }), input({ streamOptions: { include_usage: true } })]) {
    const r = planGeneration(bad, limits);
    assert.ok(!r.ok);
    assert.equal(r.error.status, 400);
  }
});

test("usage chunks only for streams that ask for them", () => {
  const on = planGeneration(input({ stream: true, streamOptions: { include_usage: true, continuous_usage_stats: true } }), limits);
  assert.ok(on.ok);
  assert.equal(on.plan.includeUsage, true);
  assert.equal(on.plan.continuousUsage, true);
  const off = planGeneration(input({ stream: true, streamOptions: { include_usage: false, continuous_usage_stats: true } }), limits);
  assert.ok(off.ok);
  assert.equal(off.plan.includeUsage, false);
  assert.equal(off.plan.continuousUsage, false);
});

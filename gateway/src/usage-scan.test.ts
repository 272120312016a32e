import { test } from "node:test";
import assert from "node:assert/strict";
import { createUsageScanner, MAX_SCANNED_BYTES, topLevelUsage } from "./usage-scan.js";

test("SSE: the final usage chunk is found even when split across chunks and characters", () => {
  const s = createUsageScanner("text/event-stream; charset=utf-8");
  const text =
    'data: {"choices":[{"delta":{"content":"héllo ✓"}}]}\n\n' +
    'data: {"choices":[],"usage":{"prompt_tokens":12,"completion_tokens":34,"total_tokens":46}}\r\n\r\n' +
    "data: [DONE]\n\n";
  const bytes = Buffer.from(text);
  for (let i = 0; i < bytes.length; i += 3) s.push(bytes.subarray(i, i + 3));
  assert.deepEqual(s.result(), { promptTokens: 12, completionTokens: 34 });
});

test("SSE: a stream without usage, or with null usage, reports nulls", () => {
  const s = createUsageScanner("text/event-stream");
  s.push(Buffer.from('data: {"choices":[{"delta":{}}],"usage":null}\n\ndata: [DONE]\n\n'));
  assert.deepEqual(s.result(), { promptTokens: null, completionTokens: null });
});

test("SSE: an over-long line is skipped without growing memory, later lines still count", () => {
  const s = createUsageScanner("text/event-stream");
  const big = Buffer.alloc(MAX_SCANNED_BYTES + 10, "a");
  s.push(Buffer.from('data: {"usage":{"prompt_tokens":1,"completion_tokens":1}}\n'));
  s.push(Buffer.from('data: {"x":"'));
  s.push(big);
  s.push(Buffer.from('","usage":{"prompt_tokens":99,"completion_tokens":99}}\n'));
  s.push(Buffer.from('data: {"usage":{"prompt_tokens":5,"completion_tokens":6}}\n'));
  assert.deepEqual(s.result(), { promptTokens: 5, completionTokens: 6 });
});

test("SSE: a last line without newline is still read at the end", () => {
  const s = createUsageScanner("text/event-stream");
  s.push(Buffer.from('data: {"usage":{"prompt_tokens":2,"completion_tokens":3}}'));
  assert.deepEqual(s.result(), { promptTokens: 2, completionTokens: 3 });
});

test("JSON: usage of the body; bad counts are null", () => {
  const s = createUsageScanner("application/json");
  const body = Buffer.from(JSON.stringify({ choices: [], usage: { prompt_tokens: 4, completion_tokens: -1 } }));
  s.push(body.subarray(0, 10));
  s.push(body.subarray(10));
  assert.deepEqual(s.result(), { promptTokens: 4, completionTokens: null });
});

test("JSON: unparsable or oversized bodies and other types report nulls", () => {
  const bad = createUsageScanner("application/json");
  bad.push(Buffer.from("{nope"));
  assert.deepEqual(bad.result(), { promptTokens: null, completionTokens: null });
  const huge = createUsageScanner("application/json");
  huge.push(Buffer.alloc(MAX_SCANNED_BYTES + 1, " "));
  assert.deepEqual(huge.result(), { promptTokens: null, completionTokens: null });
  const other = createUsageScanner("text/plain");
  other.push(Buffer.from('{"usage":{"prompt_tokens":1,"completion_tokens":1}}'));
  assert.deepEqual(other.result(), { promptTokens: null, completionTokens: null });
  assert.deepEqual(createUsageScanner(undefined).result(), { promptTokens: null, completionTokens: null });
});

test("JSON: the top-level usage is read without parsing the answer, and a nested one is never taken for it", () => {
  const top = Buffer.from('{"id":"x","choices":[{"message":{"content":"a \\"usage\\": {\\"prompt_tokens\\": 99} }"}}],"usage":{"prompt_tokens":8,"completion_tokens":2,"details":{"cached":1}},"kv":{"a":[1]}}\n');
  assert.deepEqual(topLevelUsage(top), { promptTokens: 8, completionTokens: 2 });
  // Nested usage keys: not sure, so undefined (the caller parses the whole body).
  assert.equal(topLevelUsage(Buffer.from('{"x":{"usage":{"prompt_tokens":1,"completion_tokens":1}}}')), undefined);
  assert.equal(topLevelUsage(Buffer.from('{"x":[{"usage":{"prompt_tokens":1,"completion_tokens":1}}, 2]}')), undefined);
  assert.equal(topLevelUsage(Buffer.from('{"usage":{"prompt_tokens":1')), undefined);
  // The scanner still gets a nested-only body right by parsing it whole.
  const s = createUsageScanner("application/json");
  s.push(Buffer.from('{"usage":{"prompt_tokens":3,"completion_tokens":4},"x":{"usage":{"prompt_tokens":1,"completion_tokens":1}}}'));
  assert.deepEqual(s.result(), { promptTokens: 3, completionTokens: 4 });
});

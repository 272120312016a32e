/**
 * What the official `openai` SDK makes of the gateway's own answers: a stream that
 * broke after bytes were sent, and load shedding. Both must be errors it understands.
 */
import assert from "node:assert/strict";
import { test } from "node:test";
import OpenAI, { APIError, RateLimitError } from "openai";
import { KEYS, MODEL, startHarness } from "@enclave/gateway/testing/harness";

test("a stream that breaks mid-way surfaces as an APIError, not a clean end", async (t) => {
  const h = await startHarness(t, [{ name: "breaks", region: "eu-central-1", mode: "break" }]);
  const client = new OpenAI({ baseURL: `${h.gateway.url}/v1`, apiKey: KEYS.acme, maxRetries: 0, timeout: 10000 });
  const stream = await client.chat.completions.create({ model: MODEL, messages: [{ role: "user", content: "hi" }], stream: true });
  const seen: string[] = [];
  await assert.rejects(
    (async () => {
      for await (const chunk of stream) seen.push(chunk.choices[0]?.delta.content ?? "");
    })(),
    (e: unknown) => e instanceof APIError && /broke off/.test(e.message),
  );
  assert.deepEqual(seen, ["partial"], "the bytes before the break were delivered");
});

test("a shed request is a RateLimitError with the server's Retry-After", async (t) => {
  const h = await startHarness(t, [{ name: "slow", region: "eu-central-1", mode: "sse" }], { config: { limits: { maxConcurrent: 1, maxQueue: 0, queueTimeoutMs: 1000 } } });
  h.engines.get("slow")!.holdAfterFirst = true;
  const client = new OpenAI({ baseURL: `${h.gateway.url}/v1`, apiKey: KEYS.acme, maxRetries: 0, timeout: 10000 });
  const holding = await client.chat.completions.create({ model: MODEL, messages: [{ role: "user", content: "a" }], stream: true });
  const it = holding[Symbol.asyncIterator]();
  await it.next();
  await assert.rejects(
    client.chat.completions.create({ model: MODEL, messages: [{ role: "user", content: "b" }] }),
    (e: unknown) => e instanceof RateLimitError && e.status === 429 && e.headers?.get("retry-after") === "1" && (e.error as { code?: string }).code === "rate_limit_exceeded",
  );
  h.engines.get("slow")!.release();
  while (!(await it.next()).done);
});

import { test, type TestContext } from "node:test";
import assert from "node:assert/strict";
import { request as httpRequest } from "node:http";
import { waitFor } from "@enclave/runtime";
import { startEngineSim, type EngineSim, type EngineSimOptions } from "./server.js";

async function engine(t: TestContext, opts: Partial<EngineSimOptions> = {}): Promise<EngineSim> {
  const e = await startEngineSim({ model: "m", ttftMs: 1, itlMs: 1, ...opts });
  t.after(() => e.close(), { timeout: 5000 });
  return e;
}

const chatBody = (over: Record<string, unknown> = {}) => ({ model: "m", messages: [{ role: "user", content: "Hello there, simulator!" }], ...over });

function post(e: EngineSim, path: string, body: unknown, init: RequestInit = {}): Promise<Response> {
  return fetch(`${e.url}${path}`, {
    method: "POST",
    headers: { "content-type": "application/json" },
    body: typeof body === "string" ? body : JSON.stringify(body),
    ...init,
  });
}

/** SSE events of a finished stream; throws if a line is not `data: …` or an event is not followed by a blank line. */
function sseEvents(text: string): string[] {
  assert.ok(text.endsWith("\n\n"), "every event ends with a blank line");
  return text
    .slice(0, -2)
    .split("\n\n")
    .map((event) => {
      assert.match(event, /^data: [^\n]+$/, `event is one data line: ${JSON.stringify(event)}`);
      return event.slice("data: ".length);
    });
}

/** Reads a stream until it ends or breaks; returns the text received and whether it broke. */
async function readUntilEnd(res: Response): Promise<{ text: string; broke: boolean }> {
  const reader = (res.body as ReadableStream<Uint8Array>).getReader();
  const decoder = new TextDecoder();
  let text = "";
  try {
    for (;;) {
      const { value, done } = await reader.read();
      if (done) return { text, broke: false };
      text += decoder.decode(value, { stream: true });
    }
  } catch {
    return { text, broke: true };
  }
}

async function metric(e: EngineSim, line: string): Promise<number> {
  const text = await (await fetch(`${e.url}/metrics`)).text();
  const found = text.split("\n").find((l) => l.startsWith(`${line} `));
  assert.ok(found, `metric ${line} in /metrics`);
  return Number(found.slice(line.length + 1));
}

test("GET /v1/models lists the served model as vLLM does", { timeout: 10_000 }, async (t) => {
  const e = await engine(t, { model: "org/llama-3.1-8b", maxModelLen: 4096 });
  const res = await fetch(`${e.url}/v1/models`);
  assert.equal(res.status, 200);
  const body = (await res.json()) as { object: string; data: Record<string, unknown>[] };
  assert.equal(body.object, "list");
  assert.equal(body.data.length, 1);
  const card = body.data[0] as Record<string, unknown>;
  assert.equal(card.id, "org/llama-3.1-8b");
  assert.equal(card.object, "model");
  assert.equal(card.owned_by, "vllm");
  assert.equal(card.root, "org/llama-3.1-8b");
  assert.equal(card.parent, null);
  assert.equal(card.max_model_len, 4096);
  assert.equal(typeof card.created, "number");
  const perm = (card.permission as Record<string, unknown>[])[0] as Record<string, unknown>;
  assert.equal(perm.object, "model_permission");
  assert.match(perm.id as string, /^modelperm-/);
});

test("non-streaming chat: vLLM's response shape and usage", { timeout: 10_000 }, async (t) => {
  const e = await engine(t, { outputTokens: 7 });
  const res = await post(e, "/v1/chat/completions", chatBody());
  assert.equal(res.status, 200);
  assert.match(res.headers.get("content-type") ?? "", /application\/json/);
  const body = (await res.json()) as any;
  assert.match(body.id, /^chatcmpl-[0-9a-f]{32}$/);
  assert.equal(body.object, "chat.completion");
  assert.equal(body.model, "m");
  assert.equal(typeof body.created, "number");
  assert.equal(body.choices.length, 1);
  const choice = body.choices[0];
  assert.equal(choice.index, 0);
  assert.equal(choice.message.role, "assistant");
  assert.equal(choice.message.content, "This is a simulated answer from the");
  assert.equal(choice.logprobs, null);
  assert.equal(choice.finish_reason, "stop");
  assert.equal(body.usage.completion_tokens, 7);
  assert.ok(body.usage.prompt_tokens > 4);
  assert.equal(body.usage.total_tokens, body.usage.prompt_tokens + 7);
});

test("max_tokens and max_completion_tokens bound the answer (finish_reason length)", { timeout: 10_000 }, async (t) => {
  const e = await engine(t, { outputTokens: 16 });
  for (const over of [{ max_tokens: 3 }, { max_completion_tokens: 3 }]) {
    const body = (await (await post(e, "/v1/chat/completions", chatBody(over))).json()) as any;
    assert.equal(body.usage.completion_tokens, 3);
    assert.equal(body.choices[0].message.content, "This is a");
    assert.equal(body.choices[0].finish_reason, "length");
  }
  const stream = await post(e, "/v1/chat/completions", chatBody({ max_tokens: 4, stream: true }));
  const tokens = sseEvents(await stream.text()).filter((d) => d !== "[DONE]").map((d) => JSON.parse(d).choices[0].delta.content);
  assert.deepEqual(tokens, ["", "This", " is", " a", " simulated"]);
});

test("streaming chat: data lines, role first, finish reason last, [DONE], no usage unless asked", { timeout: 10_000 }, async (t) => {
  const e = await engine(t, { outputTokens: 5 });
  const res = await post(e, "/v1/chat/completions", chatBody({ stream: true }));
  assert.equal(res.status, 200);
  assert.match(res.headers.get("content-type") ?? "", /^text\/event-stream/);
  const events = sseEvents(await res.text());
  assert.equal(events.at(-1), "[DONE]");
  const chunks = events.slice(0, -1).map((d) => JSON.parse(d));
  assert.equal(chunks.length, 1 + 5);
  const ids = new Set(chunks.map((c) => c.id));
  assert.equal(ids.size, 1);
  for (const c of chunks) {
    assert.equal(c.object, "chat.completion.chunk");
    assert.equal(c.model, "m");
    assert.equal(c.choices.length, 1);
    assert.equal("usage" in c, false, "no usage without stream_options.include_usage");
  }
  assert.deepEqual(chunks[0].choices[0].delta, { role: "assistant", content: "" });
  assert.equal(chunks.slice(1).every((c) => !("role" in c.choices[0].delta)), true);
  assert.equal(chunks.slice(0, -1).every((c) => c.choices[0].finish_reason === null), true);
  assert.equal(chunks.at(-1).choices[0].finish_reason, "stop");
  assert.equal(chunks.map((c) => c.choices[0].delta.content).join(""), "This is a simulated answer");
});

test("streaming with include_usage ends with a choices:[] chunk whose usage matches the answer", { timeout: 10_000 }, async (t) => {
  const e = await engine(t, { outputTokens: 6 });
  const plain = (await (await post(e, "/v1/chat/completions", chatBody())).json()) as any;
  const res = await post(e, "/v1/chat/completions", chatBody({ stream: true, stream_options: { include_usage: true } }));
  const events = sseEvents(await res.text());
  assert.equal(events.at(-1), "[DONE]");
  const chunks = events.slice(0, -1).map((d) => JSON.parse(d));
  const last = chunks.at(-1);
  assert.deepEqual(last.choices, []);
  assert.deepEqual(last.usage, plain.usage);
  const content = chunks.slice(0, -1).filter((c) => c.choices[0].delta.content !== "");
  assert.equal(content.length, last.usage.completion_tokens);
  for (const c of chunks.slice(0, -1)) assert.equal("usage" in c, false);
});

test("stream_options without stream is 400", { timeout: 10_000 }, async (t) => {
  const e = await engine(t);
  const res = await post(e, "/v1/chat/completions", chatBody({ stream_options: { include_usage: true } }));
  assert.equal(res.status, 400);
});

test("completions: text_completion objects, streamed and not", { timeout: 10_000 }, async (t) => {
  const e = await engine(t, { outputTokens: 4 });
  const body = (await (await post(e, "/v1/completions", { model: "m", prompt: "Once upon a time", max_tokens: 2 })).json()) as any;
  assert.match(body.id, /^cmpl-/);
  assert.equal(body.object, "text_completion");
  assert.equal(body.choices[0].text, "This is");
  assert.equal(body.choices[0].finish_reason, "length");
  assert.deepEqual(body.usage, { prompt_tokens: 5, total_tokens: 7, completion_tokens: 2 });

  const res = await post(e, "/v1/completions", { model: "m", prompt: "Once upon a time", stream: true, stream_options: { include_usage: true } });
  const events = sseEvents(await res.text());
  assert.equal(events.at(-1), "[DONE]");
  const chunks = events.slice(0, -1).map((d) => JSON.parse(d));
  assert.equal(chunks.map((c) => c.choices[0]?.text ?? "").join(""), "This is a simulated");
  assert.equal(chunks.at(-2).choices[0].finish_reason, "stop");
  const last = chunks.at(-1);
  assert.equal(last.object, "text_completion");
  assert.deepEqual(last.choices, []);
  assert.deepEqual(last.usage, { prompt_tokens: 5, total_tokens: 9, completion_tokens: 4 });
});

test("errors in vLLM's shape: unknown model 404, malformed JSON and missing messages 400, oversize body 413", { timeout: 10_000 }, async (t) => {
  const e = await engine(t, { maxBodyBytes: 1024 });
  const notFound = await post(e, "/v1/chat/completions", chatBody({ model: "nope" }));
  assert.equal(notFound.status, 404);
  assert.deepEqual(await notFound.json(), { object: "error", message: "The model `nope` does not exist.", type: "NotFoundError", param: null, code: 404 });

  for (const body of ['{"model": "m", "messages": [', JSON.stringify({ model: "m" })]) {
    const res = await post(e, "/v1/chat/completions", body);
    assert.equal(res.status, 400);
    const err = (await res.json()) as any;
    assert.deepEqual([err.object, err.type, err.param, err.code], ["error", "BadRequestError", null, 400]);
    assert.equal(typeof err.message, "string");
  }

  const big = await post(e, "/v1/chat/completions", chatBody({ messages: [{ role: "user", content: "x".repeat(4096) }] }));
  assert.equal(big.status, 413);
  assert.equal(((await big.json()) as any).code, 413);
  // A chunked body with no length announced is cut off at the limit too.
  const chunked = await new Promise<number>((resolve, reject) => {
    const req = httpRequest(`${e.url}/v1/chat/completions`, { method: "POST", headers: { "content-type": "application/json" } }, (res) => {
      res.resume();
      resolve(res.statusCode ?? 0);
    });
    req.on("error", reject);
    for (let i = 0; i < 8; i++) req.write("x".repeat(512));
    req.end();
  });
  assert.equal(chunked, 413);

  const models = await fetch(`${e.url}/v1/models`);
  assert.equal(models.status, 200, "the engine still serves after bad requests");
});

test("unknown paths and methods get FastAPI's answers", { timeout: 10_000 }, async (t) => {
  const e = await engine(t);
  const missing = await fetch(`${e.url}/v2/nothing`);
  assert.equal(missing.status, 404);
  assert.deepEqual(await missing.json(), { detail: "Not Found" });
  const wrong = await fetch(`${e.url}/v1/chat/completions`);
  assert.equal(wrong.status, 405);
  assert.deepEqual(await wrong.json(), { detail: "Method Not Allowed" });
});

test("/health: 200 with an empty body, 503 under the health fault (set over HTTP)", { timeout: 10_000 }, async (t) => {
  const e = await engine(t);
  const ok = await fetch(`${e.url}/health`);
  assert.equal(ok.status, 200);
  assert.equal(await ok.text(), "");
  const set = await post(e, "/sim/faults", { health: "fail" });
  assert.equal(set.status, 200);
  assert.equal(((await set.json()) as any).health, "fail");
  assert.equal((await fetch(`${e.url}/health`)).status, 503);
  assert.deepEqual(await (await fetch(`${e.url}/sim/faults`)).json(), { health: "fail", chat: "ok", cutAfterChunks: 2 });
  e.setFaults({ health: "ok" });
  assert.equal((await fetch(`${e.url}/health`)).status, 200);
});

test("/sim/faults rejects unknown values and fields, and changes nothing then", { timeout: 10_000 }, async (t) => {
  const e = await engine(t);
  for (const bad of [{ chat: "explode" }, { cutAfterChunks: -1 }, { colour: "red" }, "not json"]) {
    const res = await post(e, "/sim/faults", bad);
    assert.equal(res.status, 400, JSON.stringify(bad));
  }
  assert.deepEqual(e.faults(), { health: "ok", chat: "ok", cutAfterChunks: 2 });
  assert.throws(() => e.setFaults({ chat: "explode" as "ok" }), TypeError);
});

test("error500 fault: a vLLM-style 500 before any byte, streaming or not", { timeout: 10_000 }, async (t) => {
  const e = await engine(t, { faults: { chat: "error500" } });
  for (const stream of [false, true]) {
    const res = await post(e, "/v1/chat/completions", chatBody({ stream }));
    assert.equal(res.status, 500);
    const err = (await res.json()) as any;
    assert.deepEqual([err.object, err.code, err.type], ["error", 500, "InternalServerError"]);
  }
});

test("hang fault: the request is never answered; the client's timeout ends it and the engine stays usable", { timeout: 10_000 }, async (t) => {
  const e = await engine(t);
  e.setFaults({ chat: "hang" });
  const started = Date.now();
  await assert.rejects(post(e, "/v1/chat/completions", chatBody(), { signal: AbortSignal.timeout(300) }), (err: Error) => err.name === "TimeoutError");
  assert.ok(Date.now() - started >= 290);
  e.setFaults({ chat: "ok" });
  const res = await post(e, "/v1/chat/completions", chatBody());
  assert.equal(res.status, 200);
  assert.equal(await metric(e, 'vllm:num_requests_running{model_name="m"}'), 0);
});

test("cut fault: a stream stops after cutAfterChunks chunks without [DONE]; a plain request gets no answer", { timeout: 10_000 }, async (t) => {
  // The cut comes one inter-token gap after the last chunk; 50 ms lets the client read that chunk
  // before the connection drops (a failed web stream discards what it had not yet handed out).
  const e = await engine(t, { itlMs: 50, outputTokens: 10, faults: { chat: "cut", cutAfterChunks: 3 } });
  const res = await post(e, "/v1/chat/completions", chatBody({ stream: true }));
  assert.equal(res.status, 200);
  const { text } = await readUntilEnd(res);
  assert.doesNotMatch(text, /\[DONE\]/);
  const events = text.split("\n\n").filter((s) => s.startsWith("data: "));
  assert.equal(events.length, 3);
  await assert.rejects(post(e, "/v1/chat/completions", chatBody()));
  await waitFor(async () => (await metric(e, 'vllm:num_requests_running{model_name="m"}')) === 0, { timeoutMs: 5000, what: "slots freed after cuts" });
});

test("maxConcurrent: a second request waits, shows in num_requests_waiting, and completes afterwards", { timeout: 10_000 }, async (t) => {
  const e = await engine(t, { maxConcurrent: 1, ttftMs: 1, itlMs: 100, outputTokens: 10 });
  const first = await post(e, "/v1/chat/completions", chatBody({ stream: true }));
  assert.equal(first.status, 200);
  const firstText = first.text();
  const second = post(e, "/v1/chat/completions", chatBody());
  await waitFor(async () => (await metric(e, 'vllm:num_requests_waiting{model_name="m"}')) === 1, { timeoutMs: 5000, what: "second request waiting" });
  assert.equal(await metric(e, 'vllm:num_requests_running{model_name="m"}'), 1);
  assert.equal(await metric(e, 'vllm:kv_cache_usage_perc{model_name="m"}'), 1);
  const done = await second;
  assert.equal(done.status, 200);
  assert.equal(((await done.json()) as any).usage.completion_tokens, 10);
  assert.ok((await firstText).endsWith("data: [DONE]\n\n"));
  assert.equal(await metric(e, 'vllm:num_requests_waiting{model_name="m"}'), 0);
});

test("a client that disconnects frees its slot, running or waiting", { timeout: 10_000 }, async (t) => {
  const e = await engine(t, { maxConcurrent: 1, itlMs: 1000, outputTokens: 100 });
  const running = new AbortController();
  const waiting = new AbortController();
  await post(e, "/v1/chat/completions", chatBody({ stream: true }), { signal: running.signal });
  const queued = post(e, "/v1/chat/completions", chatBody(), { signal: waiting.signal }).catch(() => undefined);
  await waitFor(async () => (await metric(e, 'vllm:num_requests_waiting{model_name="m"}')) === 1, { timeoutMs: 5000, what: "queued" });
  waiting.abort();
  await queued;
  await waitFor(async () => (await metric(e, 'vllm:num_requests_waiting{model_name="m"}')) === 0, { timeoutMs: 5000, what: "waiter left" });
  assert.equal(await metric(e, 'vllm:num_requests_running{model_name="m"}'), 1);
  running.abort();
  await waitFor(async () => (await metric(e, 'vllm:num_requests_running{model_name="m"}')) === 0, { timeoutMs: 5000, what: "slot freed" });
});

test("a full waiting line answers 503", { timeout: 10_000 }, async (t) => {
  const e = await engine(t, { maxConcurrent: 1, maxWaiting: 0, itlMs: 1000, outputTokens: 100 });
  const hold = new AbortController();
  t.after(() => hold.abort());
  await post(e, "/v1/chat/completions", chatBody({ stream: true }), { signal: hold.signal });
  const res = await post(e, "/v1/chat/completions", chatBody());
  assert.equal(res.status, 503);
  assert.equal(((await res.json()) as any).type, "ServiceUnavailableError");
});

test("time to first token and inter-token latency are honoured", { timeout: 10_000 }, async (t) => {
  const e = await engine(t, { ttftMs: 120, itlMs: 30, outputTokens: 5 });
  const started = performance.now();
  const res = await post(e, "/v1/chat/completions", chatBody());
  await res.json();
  assert.ok(performance.now() - started >= 120 + 4 * 30 - 5, "ttft + 4 × itl");
});

test("metrics count prompt and generated tokens and first-token times", { timeout: 10_000 }, async (t) => {
  const e = await engine(t, { outputTokens: 5 });
  const prompt0 = await metric(e, 'vllm:prompt_tokens_total{model_name="m"}');
  const gen0 = await metric(e, 'vllm:generation_tokens_total{model_name="m"}');
  const ttft0 = await metric(e, 'vllm:time_to_first_token_seconds_count{model_name="m"}');
  assert.deepEqual([prompt0, gen0, ttft0], [0, 0, 0]);
  const a = (await (await post(e, "/v1/chat/completions", chatBody())).json()) as any;
  const b = (await (await post(e, "/v1/completions", { model: "m", prompt: "a b c", max_tokens: 2 })).json()) as any;
  assert.equal(await metric(e, 'vllm:prompt_tokens_total{model_name="m"}'), a.usage.prompt_tokens + b.usage.prompt_tokens);
  assert.equal(await metric(e, 'vllm:generation_tokens_total{model_name="m"}'), 7);
  assert.equal(await metric(e, 'vllm:time_to_first_token_seconds_count{model_name="m"}'), 2);
  assert.equal(await metric(e, 'vllm:time_to_first_token_seconds_bucket{le="2560",model_name="m"}'), 2);
  assert.equal(await metric(e, 'vllm:request_success_total{model_name="m",finished_reason="stop"}'), 1);
  assert.equal(await metric(e, 'vllm:request_success_total{model_name="m",finished_reason="length"}'), 1);
});

test("close() ends in-flight streams and hung requests promptly", { timeout: 10_000 }, async (t) => {
  const e = await startEngineSim({ model: "m", itlMs: 10_000, outputTokens: 100 });
  t.after(() => e.close(), { timeout: 5000 });
  const stream = await post(e, "/v1/chat/completions", chatBody({ stream: true }));
  e.setFaults({ chat: "hang" });
  const hung = post(e, "/v1/chat/completions", chatBody()).then(
    () => "answered",
    () => "failed",
  );
  const started = Date.now();
  await e.close();
  assert.ok(Date.now() - started < 2000, "close is prompt");
  const { broke } = await readUntilEnd(stream);
  assert.equal(broke, true);
  assert.equal(await hung, "failed");
});

test("invalid options are refused", { timeout: 10_000 }, async () => {
  await assert.rejects(startEngineSim({ model: "" }), TypeError);
  await assert.rejects(startEngineSim({ model: "m", maxConcurrent: 0 }), TypeError);
  await assert.rejects(startEngineSim({ model: "m", faults: { chat: "boom" as "ok" } }), TypeError);
});

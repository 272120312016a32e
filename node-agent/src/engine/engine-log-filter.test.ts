import assert from "node:assert/strict";
import { mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { describe, test } from "node:test";
import { createLogger } from "@enclave/runtime";
import { holdsRequestContent, MAX_LOG_LINE_CHARS } from "./engine-log-filter.js";
import { LogTail } from "./log-tail.js";
import { ProcessEngineDriver } from "./process-engine-driver.js";
import { requestContentArg } from "./profiles/engine-profile.js";

/**
 * Lines in the formats the engines print them: vLLM's request logger (vllm/entrypoints/logger.py,
 * 0.10.x and 0.16 format strings), SGLang's `--log-requests` (tokenizer_manager.py), and an
 * OpenAI request object quoted by a traceback. The prompt is the secret that must not leave.
 */
const SECRET = "my IBAN is DE89370400440532013000";
const REQUEST_LINES = [
  `INFO 09-10 19:10:43 [logger.py:41] Received request chatcmpl-8d2c: prompt: '<|im_start|>user\\n${SECRET}<|im_end|>\\n', params: SamplingParams(n=1, temperature=0.7), prompt_token_ids: [151644, 872], prompt_embeds shape: None, lora_request: None.`,
  `INFO 11-02 08:00:01 [logger.py:56] Received request cmpl-1: params: SamplingParams(n=1, stop=['${SECRET}']), lora_request: None.`,
  `DEBUG 11-02 08:00:01 [logger.py:40] Request cmpl-1 details: prompt: '${SECRET}', prompt_token_ids: [1, 2], prompt_embeds shape: None.`,
  `INFO 11-02 08:00:02 [logger.py:80] Generated response cmpl-1: output: '${SECRET}', output_token_ids: [5], finish_reason: stop`,
  `[2025-06-01 10:00:00] Receive: obj=GenerateReqInput(text='${SECRET}', sampling_params={'max_new_tokens': 16}, rid='a1')`,
  `[2025-06-01 10:00:01] Finish: obj=GenerateReqInput(rid='a1'), out={'text': '${SECRET}', 'meta_info': {}}`,
  `pydantic_core._pydantic_core.ValidationError: 1 validation error for ChatCompletionRequest messages.0 {'role': 'user', 'content': '${SECRET}'}`,
  `  input: "${SECRET}"`,
];
/** Lines that say why an engine died: they must stay. */
const REASON_LINES = [
  "INFO 07-25 10:00:00 [api_server.py:1395] vLLM API server version 0.10.0",
  "Traceback (most recent call last):",
  '  File "/usr/local/lib/python3.12/dist-packages/vllm/worker/worker.py", line 266, in determine_num_available_blocks',
  "torch.OutOfMemoryError: CUDA out of memory. Tried to allocate 2.00 GiB. GPU 0 has a total capacity of 79.10 GiB of which 1.12 GiB is free.",
  "ValueError: The model's max seq len (32768) is larger than the maximum number of tokens that can be stored in KV cache (20000). Try increasing `gpu_memory_utilization` or decreasing `max_model_len` when initializing the engine.",
  'INFO:     10.0.0.7:50412 - "POST /v1/chat/completions HTTP/1.1" 200 OK',
  "OSError: We couldn't connect to 'https://huggingface.co' to load this file, and it is not in the cached files at /root/.cache/huggingface.",
];

describe("engine log tails", () => {
  test("request and response content is recognised; reasons are not", () => {
    for (const l of REQUEST_LINES) assert.ok(holdsRequestContent(l), l);
    for (const l of REASON_LINES) assert.ok(!holdsRequestContent(l), l);
  });

  test("the tail keeps reasons, never request lines, and says how many it withheld", () => {
    const tail = new LogTail();
    // Chunks as pipes deliver them: lines split anywhere, CRLF endings.
    const text = [...REASON_LINES.slice(0, 2), ...REQUEST_LINES, ...REASON_LINES.slice(2)].join("\r\n") + "\r\n";
    for (let i = 0; i < text.length; i += 37) tail.push(text.slice(i, i + 37));
    const out = tail.toString();
    assert.ok(!out.includes(SECRET), out);
    for (const l of REASON_LINES) assert.ok(out.includes(l.slice(0, MAX_LOG_LINE_CHARS)), l);
    assert.match(out, /\[8 lines that may hold request content withheld\]$/);
  });

  test("lines are cut short, a line without end is judged by its start, and the tail stays bounded", () => {
    const tail = new LogTail(2000);
    tail.push(`${"x".repeat(1000)}\n`);
    assert.equal(tail.toString(), `${"x".repeat(MAX_LOG_LINE_CHARS)}…`);
    // A request line longer than the partial-line limit, arriving in pieces: withheld as a whole.
    tail.push("Received request r1: prompt: '");
    for (let i = 0; i < 20; i++) tail.push(`${SECRET} `.repeat(20));
    tail.push("'\nRuntimeError: engine core died\n");
    assert.ok(!tail.toString().includes(SECRET));
    assert.match(tail.toString(), /RuntimeError: engine core died\n\[1 line that may hold request content withheld\]$/);
    for (let i = 0; i < 5000; i++) tail.push(`line ${i}\n`);
    assert.ok(tail.toString().length <= 2000);
    assert.match(tail.toString(), /line 4999\n\[1 line/);
  });

  test("an engine that logs a prompt and dies: the reason its driver reports holds no prompt", async (t) => {
    const dir = mkdtempSync(join(tmpdir(), "enclave-leaky-engine-"));
    t.after(() => rmSync(dir, { recursive: true, force: true }));
    const script = join(dir, "engine.mjs");
    writeFileSync(script, `process.stderr.write(${JSON.stringify(REQUEST_LINES.join("\n") + "\n" + REASON_LINES.join("\n") + "\n")}); process.exit(1);\n`);
    const driver = new ProcessEngineDriver({
      host: "127.0.0.1",
      sim: { ttftMs: 1, itlMs: 1, maxConcurrent: 1, outputTokens: 1 },
      listenTimeoutMs: 10_000,
      enginePath: script,
      log: createLogger("log-filter-test", "silent"),
    });
    const spec = { backendId: "n1/d/r/0/g1", replica: { deployment: "d", region: "r", replica: 0, generation: 1 }, model: "m", engine: "vllm" as const, gpus: ["GPU-a"], args: [] };
    const err = await driver.start(spec).then(
      () => assert.fail("the engine died, the start must fail"),
      (e: unknown) => (e as Error).message,
    );
    assert.match(err, /exited with code 1 before listening/);
    assert.match(err, /it is not in the cached files/);
    assert.ok(!err.includes(SECRET), err);
  });

  test("deployment arguments that turn request logging on are found, in either form", () => {
    assert.equal(requestContentArg(["--max-num-seqs", "8", "--enable-log-requests"]), "--enable-log-requests");
    assert.equal(requestContentArg(["--enable-log-outputs=true"]), "--enable-log-outputs=true");
    assert.equal(requestContentArg(["--no-disable-log-requests"]), "--no-disable-log-requests");
    assert.equal(requestContentArg(["--log-requests", "--log-requests-level", "2"]), "--log-requests");
    assert.equal(requestContentArg(["--crash-dump-folder=/tmp/d"]), "--crash-dump-folder=/tmp/d");
    assert.equal(requestContentArg(["--disable-log-requests", "--log-requests-level", "0", "--enable-metrics"]), undefined);
  });
});

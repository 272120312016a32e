import type { IncomingMessage, ServerResponse } from "node:http";
import { randomUUID } from "node:crypto";
import { performance } from "node:perf_hooks";
import { setTimeout as delay, setImmediate as yieldToLoop } from "node:timers/promises";
import { errorBody } from "./errors.js";
import type { EngineFaults } from "./faults.js";
import type { GenerationKind } from "./generation-request.js";
import { sendJson, untilAborted, writeWithBackpressure } from "./http-io.js";
import type { EngineMetrics } from "./metrics.js";
import type { GenerationPlan } from "./plan.js";
import {
  chatCompletion,
  chatRoleChunk,
  chatTokenChunk,
  sseData,
  SSE_DONE,
  textCompletion,
  textTokenChunk,
  usage,
  usageChunk,
  type AnswerHead,
} from "./responses.js";
import type { SequenceSlots } from "./slots.js";
import { tokenText } from "./text.js";

export interface GenerationContext {
  model: string;
  ttftMs: number;
  itlMs: number;
  slots: SequenceSlots;
  metrics: EngineMetrics;
  /** Aborts when the engine shuts down, so nothing outlives `close()`. */
  closing: AbortSignal;
}

/**
 * Serves one validated generation request: waits for a slot, then emits tokens on the
 * simulated clock (first after `ttftMs`, then one every `itlMs`), as SSE or one JSON body.
 * A client that goes away stops generation and frees its slot.
 */
export async function serveGeneration(
  ctx: GenerationContext,
  kind: GenerationKind,
  req: IncomingMessage,
  res: ServerResponse,
  plan: GenerationPlan,
  faults: EngineFaults,
  arrivedAt: number,
): Promise<void> {
  if (faults.chat === "error500") {
    sendJson(res, 500, errorBody({ status: 500, type: "InternalServerError", message: "Simulated engine failure (fault error500)." }));
    return;
  }
  const abort = new AbortController();
  const stop = () => abort.abort();
  res.once("close", stop);
  ctx.closing.addEventListener("abort", stop, { once: true });
  if (ctx.closing.aborted) stop();
  const signal = abort.signal;
  try {
    if (faults.chat === "hang") {
      await untilAborted(signal);
      return;
    }
    const ticket = ctx.slots.request();
    if (!ticket) {
      sendJson(res, 503, errorBody({ status: 503, type: "ServiceUnavailableError", message: "The engine's waiting queue is full; retry later." }));
      return;
    }
    try {
      await generate(ctx, kind, req, res, plan, faults, arrivedAt, ticket.granted, signal);
    } finally {
      ticket.release();
    }
  } catch (e) {
    if (!signal.aborted) throw e;
  } finally {
    res.off("close", stop);
    ctx.closing.removeEventListener("abort", stop);
  }
}

async function generate(
  ctx: GenerationContext,
  kind: GenerationKind,
  req: IncomingMessage,
  res: ServerResponse,
  plan: GenerationPlan,
  faults: EngineFaults,
  arrivedAt: number,
  granted: Promise<void>,
  signal: AbortSignal,
): Promise<void> {
  const head: AnswerHead = {
    id: `${kind === "chat" ? "chatcmpl" : "cmpl"}-${randomUUID().replaceAll("-", "")}`,
    created: Math.floor(Date.now() / 1000),
    model: ctx.model,
  };
  const cut = faults.chat === "cut";
  if (plan.stream) {
    // Like vLLM, a stream's headers go out at once; tokens follow when the request is scheduled.
    res.writeHead(200, { "content-type": "text/event-stream; charset=utf-8", "cache-control": "no-cache" });
    res.flushHeaders();
  }
  await Promise.race([granted, untilAborted(signal)]);
  signal.throwIfAborted();
  ctx.metrics.promptTokens(plan.promptTokens);
  if (cut && !plan.stream) {
    req.socket.destroy();
    return;
  }

  let sent = 0;
  /** False once the cut fault has dropped the connection. */
  const send = async (data: string): Promise<boolean> => {
    if (cut && (sent >= faults.cutAfterChunks || data === SSE_DONE)) {
      req.socket.destroy();
      return false;
    }
    await writeWithBackpressure(res, data, signal);
    sent++;
    return true;
  };

  const P = plan.promptTokens;
  const N = plan.completionTokens;
  const chunkUsage = (generated: number) => (plan.continuousUsage ? usage(P, generated) : undefined);
  const start = performance.now();
  let text = "";
  for (let i = 0; i < N; i++) {
    const wait = start + ctx.ttftMs + i * ctx.itlMs - performance.now();
    if (wait > 0) await delay(wait, undefined, { signal });
    else if (i % 64 === 63) await yieldToLoop(undefined, { signal });
    if (i === 0) ctx.metrics.firstToken((performance.now() - arrivedAt) / 1000);
    ctx.metrics.generationToken();
    const token = tokenText(i);
    const finish = i === N - 1 ? plan.finishReason : null;
    if (!plan.stream) {
      text += token;
      continue;
    }
    if (kind === "chat") {
      if (i === 0 && !(await send(sseData(chatRoleChunk(head, chunkUsage(0)))))) return;
      if (!(await send(sseData(chatTokenChunk(head, token, finish, chunkUsage(i + 1)))))) return;
    } else if (!(await send(sseData(textTokenChunk(head, token, finish, chunkUsage(i + 1)))))) {
      return;
    }
  }

  const u = usage(P, N);
  if (!plan.stream) {
    sendJson(res, 200, kind === "chat" ? chatCompletion(head, text, plan.finishReason, u) : textCompletion(head, text, plan.finishReason, u));
  } else {
    if (plan.includeUsage && !(await send(sseData(usageChunk(head, kind === "chat" ? "chat.completion.chunk" : "text_completion", u))))) return;
    if (!(await send(SSE_DONE))) return;
    res.end();
  }
  ctx.metrics.finished(plan.finishReason);
}

import { badRequest, type EngineError } from "./errors.js";

export type FinishReason = "stop" | "length";

export interface GenerationPlan {
  promptTokens: number;
  completionTokens: number;
  finishReason: FinishReason;
  stream: boolean;
  /** A last chunk with `choices: []` and the usage. */
  includeUsage: boolean;
  /** Usage on every chunk (vLLM's `continuous_usage_stats`). */
  continuousUsage: boolean;
}

export interface PlanInput {
  promptTokens: number;
  maxTokens: number | null | undefined;
  n: number | null | undefined;
  ignoreEos: boolean;
  stream: boolean;
  streamOptions: { include_usage?: boolean | null | undefined; continuous_usage_stats?: boolean | null | undefined } | null | undefined;
}

export interface PlanLimits {
  /** What the simulated model says before it "stops" on its own. */
  outputTokens: number;
  maxModelLen: number;
}

export type PlanResult = { ok: true; plan: GenerationPlan } | { ok: false; error: EngineError };

/**
 * How long the answer is and why it ends, with vLLM's checks and messages:
 * the model stops by itself after `outputTokens` ("stop") unless `max_tokens` or the
 * context window cut it short first ("length").
 */
export function planGeneration(input: PlanInput, limits: PlanLimits): PlanResult {
  const fail = (message: string): PlanResult => ({ ok: false, error: badRequest(message) });
  if (input.streamOptions != null && !input.stream) return fail("Stream options can only be defined when `stream=True`.");
  if (input.n != null && input.n !== 1) return fail(`n=${input.n} is not supported by the engine simulator; use n=1.`);
  const P = input.promptTokens;
  const L = limits.maxModelLen;
  const M = input.maxTokens;
  if (M != null && M < 1) return fail(`max_tokens must be at least 1, got ${M}.`);
  if (P >= L) {
    return fail(`This model's maximum context length is ${L} tokens. However, your request has ${P} input tokens. Please reduce the length of the input messages.`);
  }
  if (M != null && P + M > L) {
    return fail(
      `This model's maximum context length is ${L} tokens. However, you requested ${P + M} tokens (${P} in the messages, ${M} in the completion). Please reduce the length of the messages or completion.`,
    );
  }
  const limit = M ?? L - P;
  const natural = input.ignoreEos ? Number.POSITIVE_INFINITY : limits.outputTokens;
  const completionTokens = Math.min(limit, natural);
  return {
    ok: true,
    plan: {
      promptTokens: P,
      completionTokens,
      finishReason: natural <= limit ? "stop" : "length",
      stream: input.stream,
      includeUsage: input.stream && input.streamOptions?.include_usage === true,
      continuousUsage: input.stream && input.streamOptions?.include_usage === true && input.streamOptions.continuous_usage_stats === true,
    },
  };
}

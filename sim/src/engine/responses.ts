import type { FinishReason } from "./plan.js";

/** Bodies in the shapes of vLLM's OpenAI server (`vllm/entrypoints/openai/protocol.py`). */

export interface Usage {
  prompt_tokens: number;
  total_tokens: number;
  completion_tokens: number;
}

export function usage(promptTokens: number, completionTokens: number): Usage {
  return { prompt_tokens: promptTokens, total_tokens: promptTokens + completionTokens, completion_tokens: completionTokens };
}

/** Fields every answer of one request shares. */
export interface AnswerHead {
  id: string;
  created: number;
  model: string;
}

/** vLLM's key order: id, object, created, model. */
function opening<O extends string>(head: AnswerHead, object: O) {
  return { id: head.id, object, created: head.created, model: head.model };
}

export function modelList(model: string, created: number, maxModelLen: number, permissionId: string) {
  return {
    object: "list",
    data: [
      {
        id: model,
        object: "model",
        created,
        owned_by: "vllm",
        root: model,
        parent: null,
        max_model_len: maxModelLen,
        permission: [
          {
            id: permissionId,
            object: "model_permission",
            created,
            allow_create_engine: false,
            allow_sampling: true,
            allow_logprobs: true,
            allow_search_indices: false,
            allow_view: true,
            allow_fine_tuning: false,
            organization: "*",
            group: null,
            is_blocking: false,
          },
        ],
      },
    ],
  };
}

export function chatCompletion(head: AnswerHead, content: string, finishReason: FinishReason, u: Usage) {
  return {
    ...opening(head, "chat.completion"),
    choices: [
      {
        index: 0,
        message: { role: "assistant", content, tool_calls: [] },
        logprobs: null,
        finish_reason: finishReason,
        stop_reason: null,
      },
    ],
    usage: u,
  };
}

export function textCompletion(head: AnswerHead, text: string, finishReason: FinishReason, u: Usage) {
  return {
    ...opening(head, "text_completion"),
    choices: [{ index: 0, text, logprobs: null, finish_reason: finishReason, stop_reason: null }],
    usage: u,
  };
}

/** vLLM opens a chat stream with the role and empty content. */
export function chatRoleChunk(head: AnswerHead, u?: Usage) {
  return {
    ...opening(head, "chat.completion.chunk"),
    choices: [{ index: 0, delta: { role: "assistant", content: "" }, logprobs: null, finish_reason: null }],
    ...(u ? { usage: u } : {}),
  };
}

/** A token; the last one carries the finish reason. */
export function chatTokenChunk(head: AnswerHead, content: string, finishReason: FinishReason | null, u?: Usage) {
  return {
    ...opening(head, "chat.completion.chunk"),
    choices: [
      finishReason
        ? { index: 0, delta: { content }, logprobs: null, finish_reason: finishReason, stop_reason: null }
        : { index: 0, delta: { content }, logprobs: null, finish_reason: null },
    ],
    ...(u ? { usage: u } : {}),
  };
}

export function textTokenChunk(head: AnswerHead, text: string, finishReason: FinishReason | null, u?: Usage) {
  return {
    ...opening(head, "text_completion"),
    choices: [{ index: 0, text, logprobs: null, finish_reason: finishReason, stop_reason: null }],
    ...(u ? { usage: u } : {}),
  };
}

/** With `stream_options.include_usage`: after the last token, before `[DONE]`. */
export function usageChunk(head: AnswerHead, object: "chat.completion.chunk" | "text_completion", u: Usage) {
  return { ...opening(head, object), choices: [], usage: u };
}

export function sseData(payload: unknown): string {
  return `data: ${JSON.stringify(payload)}\n\n`;
}

export const SSE_DONE = "data: [DONE]\n\n";

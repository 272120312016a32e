import { ChatCompletionRequestHead, CompletionRequestHead, EmbeddingRequestHead } from "@enclave/contracts";
import { invalidBody, invalidJson, requestTooLarge, type StepResult } from "../errors.js";
import type { GenerationKind } from "../redact/redact-request.js";

export interface ChatRequest {
  model: string;
  stream: boolean;
}

/** A validated generation request: what the gateway decides on, and the parsed body for redaction. */
export interface GenerationRequest extends ChatRequest {
  /** OpenAI's `user` field, a session key for affinity. */
  user: string | undefined;
  body: Record<string, unknown>;
}

const HEADS = { chat: ChatCompletionRequestHead, completion: CompletionRequestHead, embedding: EmbeddingRequestHead } as const;
const MAIN_PARAM = { chat: "messages", completion: "prompt", embedding: "input" } as const;

export function validateChatBody(raw: Buffer | undefined, limitBytes: number): StepResult<ChatRequest> {
  const r = validateGenerationBody("chat", raw, limitBytes);
  return r.ok ? { ok: true, value: { model: r.value.model, stream: r.value.stream } } : r;
}

/**
 * Size, JSON, and the fields the gateway decides on (model, the text field,
 * stream, user). Unknown fields are the engine's business and are kept.
 */
export function validateGenerationBody(kind: GenerationKind, raw: Buffer | undefined, limitBytes: number): StepResult<GenerationRequest> {
  if (raw === undefined || raw.length === 0) return { ok: false, error: invalidJson("empty body") };
  if (raw.length > limitBytes) return { ok: false, error: requestTooLarge(limitBytes) };
  let body: unknown;
  try {
    body = JSON.parse(raw.toString("utf8"));
  } catch {
    return { ok: false, error: invalidJson() };
  }
  if (typeof body !== "object" || body === null || Array.isArray(body)) {
    return { ok: false, error: invalidJson("not an object") };
  }
  const b = body as Record<string, unknown>;
  // Fast path for well-formed requests: the schema runs only to explain what is wrong.
  const model = b.model;
  const main = b[MAIN_PARAM[kind]];
  const stream = b.stream;
  const user = b.user;
  const quickOk =
    typeof model === "string" && model.length >= 1 && model.length <= 256 &&
    (kind === "chat" ? Array.isArray(main) : typeof main === "string" || Array.isArray(main)) &&
    (stream === undefined || stream === null || typeof stream === "boolean") &&
    (user === undefined || user === null || (typeof user === "string" && user.length <= 1024)) &&
    (kind === "chat" || HEADS[kind].safeParse(b).success);
  if (!quickOk) {
    const r = HEADS[kind].safeParse(b);
    if (r.success) return { ok: false, error: invalidBody("Invalid request body.", null) };
    const issue = r.error.issues[0];
    const param = issue && issue.path.length > 0 ? String(issue.path[0]) : null;
    const missing = param !== null && !(param in b);
    const message = missing
      ? `Missing required parameter: '${param}'.`
      : param === "model"
        ? "'model' must be a non-empty string of at most 256 characters."
        : param === "messages"
          ? "'messages' must be an array."
          : param === "prompt"
            ? "'prompt' must be a string, an array of strings, or token ids."
            : param === "input"
              ? "'input' must be a string, an array of strings, or token ids."
              : param === "stream"
                ? "'stream' must be a boolean."
                : param === "user"
                  ? "'user' must be a string of at most 1024 characters."
                  : "Invalid request body.";
    return { ok: false, error: invalidBody(message, param) };
  }
  return {
    ok: true,
    value: { model: model as string, stream: kind !== "embedding" && stream === true, user: typeof user === "string" ? user : undefined, body: b },
  };
}

import { ChatCompletionRequestHead } from "@enclave/contracts";
import { invalidBody, invalidJson, requestTooLarge, type StepResult } from "../errors.js";

export interface ChatRequest {
  model: string;
  stream: boolean;
}

export function validateChatBody(raw: Buffer | undefined, limitBytes: number): StepResult<ChatRequest> {
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
  // Only what the gateway decides on is checked; the raw bytes travel on untouched.
  const r = ChatCompletionRequestHead.safeParse(body);
  if (!r.success) {
    const issue = r.error.issues[0];
    const param = issue && issue.path.length > 0 ? String(issue.path[0]) : null;
    const missing = param !== null && !(param in body);
    const message = missing
      ? `Missing required parameter: '${param}'.`
      : param === "model"
        ? "'model' must be a non-empty string of at most 256 characters."
        : param === "messages"
          ? "'messages' must be an array."
          : param === "stream"
            ? "'stream' must be a boolean."
            : "Invalid request body.";
    return { ok: false, error: invalidBody(message, param) };
  }
  return { ok: true, value: { model: r.data.model, stream: r.data.stream === true } };
}

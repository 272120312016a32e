import { badRequest, describeIssues, modelNotFound, type EngineError } from "./errors.js";
import { planGeneration, type GenerationPlan, type PlanLimits } from "./plan.js";
import { ChatCompletionRequest, CompletionRequest } from "./requests.js";
import { chatPromptTokens, completionPromptTokens } from "./text.js";

export type GenerationKind = "chat" | "completion";

export type ParsedGeneration = { ok: true; plan: GenerationPlan } | { ok: false; error: EngineError };

/**
 * A request body to a generation plan, or the error vLLM would answer, checked in vLLM's
 * order: body shape (400), model (404), lengths and options (400).
 */
export function parseGenerationRequest(kind: GenerationKind, body: string, servedModel: string, limits: PlanLimits): ParsedGeneration {
  let json: unknown;
  try {
    json = JSON.parse(body);
  } catch {
    // JSON.parse's message quotes the body, and bodies carry prompts.
    return { ok: false, error: badRequest("The request body is not valid JSON.") };
  }
  if (kind === "chat") {
    const r = ChatCompletionRequest.safeParse(json);
    if (!r.success) return { ok: false, error: badRequest(describeIssues(r.error)) };
    const q = r.data;
    if (q.model != null && q.model !== servedModel) return { ok: false, error: modelNotFound(q.model) };
    return planned(planGeneration(
      {
        promptTokens: chatPromptTokens(q.messages),
        maxTokens: q.max_completion_tokens ?? q.max_tokens,
        n: q.n,
        ignoreEos: q.ignore_eos === true,
        stream: q.stream === true,
        streamOptions: q.stream_options,
      },
      limits,
    ));
  }
  const r = CompletionRequest.safeParse(json);
  if (!r.success) return { ok: false, error: badRequest(describeIssues(r.error)) };
  const q = r.data;
  if (q.model != null && q.model !== servedModel) return { ok: false, error: modelNotFound(q.model) };
  return planned(planGeneration(
    {
      promptTokens: completionPromptTokens(q.prompt),
      maxTokens: q.max_tokens,
      n: q.n,
      ignoreEos: q.ignore_eos === true,
      stream: q.stream === true,
      streamOptions: q.stream_options,
    },
    limits,
  ));
}

function planned(r: ReturnType<typeof planGeneration>): ParsedGeneration {
  return r.ok ? { ok: true, plan: r.plan } : { ok: false, error: r.error };
}

import { z } from "zod";

// Loose objects: vLLM accepts (and ignores) OpenAI parameters it does not use, and so do we.

const ContentPart = z.looseObject({ type: z.string(), text: z.string().optional() });

const Message = z.looseObject({
  role: z.string().min(1),
  content: z.union([z.string(), z.array(ContentPart), z.null()]).optional(),
});

const StreamOptions = z.looseObject({
  include_usage: z.boolean().nullish(),
  continuous_usage_stats: z.boolean().nullish(),
});

const sampling = {
  model: z.string().nullish(),
  max_tokens: z.number().int().nullish(),
  n: z.number().int().nullish(),
  stream: z.boolean().nullish(),
  stream_options: StreamOptions.nullish(),
  /** vLLM's extension: keep generating up to max_tokens. */
  ignore_eos: z.boolean().nullish(),
};

export const ChatCompletionRequest = z.looseObject({
  ...sampling,
  messages: z.array(Message).min(1),
  max_completion_tokens: z.number().int().nullish(),
});
export type ChatCompletionRequest = z.infer<typeof ChatCompletionRequest>;

export const CompletionRequest = z.looseObject({
  ...sampling,
  // Batched prompts (several strings) would need several choices; the simulator serves one.
  prompt: z.union([z.string(), z.array(z.string()).length(1), z.array(z.number().int().nonnegative()).min(1)]),
});
export type CompletionRequest = z.infer<typeof CompletionRequest>;

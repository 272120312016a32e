import { z } from "zod";

/**
 * The part of an OpenAI chat completions request the gateway decides on. Loose:
 * every other field belongs to the engine and passes through untouched.
 */
export const ChatCompletionRequestHead = z.looseObject({
  model: z.string().min(1).max(256),
  messages: z.array(z.unknown()),
  stream: z.boolean().nullish(),
});
export type ChatCompletionRequestHead = z.infer<typeof ChatCompletionRequestHead>;

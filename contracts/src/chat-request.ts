import { z } from "zod";

/**
 * The part of an OpenAI chat completions request the gateway decides on. Loose:
 * every other field belongs to the engine and passes through untouched.
 */
export const ChatCompletionRequestHead = z.looseObject({
  model: z.string().min(1).max(256),
  messages: z.array(z.unknown()),
  stream: z.boolean().nullish(),
  /** Prefix-affinity key for KV-cache reuse (OpenAI's `user`); never logged. */
  user: z.string().max(1024).nullish(),
});
export type ChatCompletionRequestHead = z.infer<typeof ChatCompletionRequestHead>;

/** `/v1/completions`: a prompt string, an array of strings, or token ids. */
export const CompletionRequestHead = z.looseObject({
  model: z.string().min(1).max(256),
  prompt: z.union([z.string(), z.array(z.string()), z.array(z.number().int()), z.array(z.array(z.number().int()))]),
  stream: z.boolean().nullish(),
  user: z.string().max(1024).nullish(),
});
export type CompletionRequestHead = z.infer<typeof CompletionRequestHead>;

/** `/v1/embeddings`: a string, an array of strings, or token ids. Never streamed. */
export const EmbeddingRequestHead = z.looseObject({
  model: z.string().min(1).max(256),
  input: z.union([z.string(), z.array(z.string()), z.array(z.number().int()), z.array(z.array(z.number().int()))]),
  user: z.string().max(1024).nullish(),
});
export type EmbeddingRequestHead = z.infer<typeof EmbeddingRequestHead>;

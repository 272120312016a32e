/**
 * What of an engine's own output may leave the node. The agent keeps the last lines an
 * engine printed to say why it died, and that text reaches the scheduler (`Backend.detail`,
 * job failure reasons), which must never see prompts or completions. Engines print request
 * content when request logging is on (vLLM before 0.10.1 by default: `Received request
 * …: prompt: '…'`; later with `--enable-log-requests`, `--enable-log-outputs`; SGLang with
 * `--log-requests`: `Receive: obj=GenerateReqInput(text=…)`), and a traceback can quote a
 * request. Such lines are withheld whatever the engine's flags, and every line is cut short.
 */

/** Lines that carry, or are likely to carry, request or response content. */
const REQUEST_CONTENT = [
  // vLLM's request logger, every version: `Received request <id>: prompt: …, params: SamplingParams(stop=[…]…)`,
  // `Request <id> details: prompt: …`, `Generated response <id>: output: …`.
  /\breceived request\b/i,
  /\brequest \S+ (?:prompt )?details\b/i,
  /\bgenerated response\b/i,
  /\bprompt(?:_token_ids|_embeds)?\s*[:=]/i,
  // SGLang's `--log-requests`: `Receive: obj=GenerateReqInput(...)`, `Finish: obj=..., out={...}`.
  /\b(?:receive|finish):\s*obj=/i,
  /\b(?:Generate|Embedding|Tokenized\w*)ReqInput\b/,
  // OpenAI request objects and their fields, as a traceback or a validation error may print them.
  /\b(?:Chat)?Completion(?:Request|Message)\b|\bEmbeddingRequest\b/,
  /["']?\b(?:messages|content|prompt|input|text|output_text|outputs?)\b["']?\s*[:=]\s*["'[{(]/i,
];

/** Longer lines are cut: a reason needs no more, and a cut line cannot carry a whole document. */
export const MAX_LOG_LINE_CHARS = 300;

/** Whether a line of engine output may hold request or response content. */
export function holdsRequestContent(line: string): boolean {
  return REQUEST_CONTENT.some((re) => re.test(line));
}

/** A line as it may leave the node: undefined when withheld, otherwise cut to MAX_LOG_LINE_CHARS. */
export function shareableLogLine(line: string): string | undefined {
  if (holdsRequestContent(line)) return undefined;
  return line.length > MAX_LOG_LINE_CHARS ? `${line.slice(0, MAX_LOG_LINE_CHARS)}…` : line;
}

import { StringDecoder } from "node:string_decoder";

export interface Usage {
  promptTokens: number | null;
  completionTokens: number | null;
}

/** Watches response bytes as they pass, never holding them back, and reports the engine's `usage`. */
export interface UsageScanner {
  push(chunk: Uint8Array): void;
  result(): Usage;
}

/** An SSE line or JSON body longer than this is not looked into (memory stays bounded). */
export const MAX_SCANNED_BYTES = 1024 * 1024;

const NONE: Usage = { promptTokens: null, completionTokens: null };

/** SSE: the last `data:` line carrying `usage` wins (the final usage chunk). JSON: `usage` of the body. */
export function createUsageScanner(contentType: string | undefined): UsageScanner {
  const ct = (contentType ?? "").toLowerCase();
  if (ct.startsWith("text/event-stream")) return sseScanner();
  if (ct.includes("json")) return jsonScanner();
  return { push: () => undefined, result: () => NONE };
}

/** `usage` from a parsed chunk or body; null counts for anything not a non-negative integer. */
export function usageOf(value: unknown): Usage | undefined {
  if (typeof value !== "object" || value === null) return undefined;
  const u = (value as { usage?: unknown }).usage;
  if (typeof u !== "object" || u === null) return undefined;
  const count = (n: unknown) => (typeof n === "number" && Number.isSafeInteger(n) && n >= 0 ? n : null);
  return {
    promptTokens: count((u as { prompt_tokens?: unknown }).prompt_tokens),
    completionTokens: count((u as { completion_tokens?: unknown }).completion_tokens),
  };
}

function sseScanner(): UsageScanner {
  const decoder = new StringDecoder("utf8");
  let partial = "";
  let skipping = false; // inside an over-long line: drop until its end
  let found: Usage = NONE;
  const line = (text: string) => {
    if (!text.startsWith("data:") || !text.includes('"usage"')) return;
    try {
      const u = usageOf(JSON.parse(text.slice(5)));
      if (u) found = u;
    } catch {
      // not JSON (e.g. "[DONE]" or a foreign event): nothing to count
    }
  };
  return {
    push(chunk) {
      let text = decoder.write(Buffer.isBuffer(chunk) ? chunk : Buffer.from(chunk));
      for (;;) {
        const nl = text.indexOf("\n");
        if (nl < 0) break;
        const head = text.slice(0, nl);
        text = text.slice(nl + 1);
        if (!skipping) line((partial + head).replace(/\r$/, ""));
        partial = "";
        skipping = false;
      }
      if (skipping) return;
      partial += text;
      if (partial.length > MAX_SCANNED_BYTES) {
        partial = "";
        skipping = true;
      }
    },
    result() {
      if (!skipping && partial !== "") line((partial + decoder.end()).replace(/\r$/, ""));
      partial = "";
      return found;
    },
  };
}

function jsonScanner(): UsageScanner {
  const chunks: Buffer[] = [];
  let size = 0;
  let overflow = false;
  return {
    push(chunk) {
      if (overflow) return;
      size += chunk.length;
      if (size > MAX_SCANNED_BYTES) {
        overflow = true;
        chunks.length = 0;
        return;
      }
      chunks.push(Buffer.isBuffer(chunk) ? chunk : Buffer.from(chunk));
    },
    result() {
      if (overflow || size === 0) return NONE;
      const body = chunks.length === 1 ? chunks[0]! : Buffer.concat(chunks, size);
      const fast = topLevelUsage(body);
      if (fast !== undefined) return fast;
      try {
        return usageOf(JSON.parse(body.toString("utf8"))) ?? NONE;
      } catch {
        return NONE;
      }
    },
  };
}

const USAGE_KEY = Buffer.from('"usage"');
const QUOTE = 0x22;
const BACKSLASH = 0x5c;
const OPEN = 0x7b;
const CLOSE = 0x7d;

/**
 * The body's top-level `usage` without parsing the whole answer: engines write it last,
 * and in valid JSON `"usage"` can only be a key (a quote inside a string is escaped). The
 * object after the last such key is parsed alone, and only if the rest of the body then
 * closes the root object, so a nested `usage` is never taken for it. Undefined: not
 * sure, parse the whole body instead.
 */
export function topLevelUsage(body: Buffer): Usage | undefined {
  const at = body.lastIndexOf(USAGE_KEY);
  if (at < 0) return undefined;
  let i = at + USAGE_KEY.length;
  while (i < body.length && (body[i] === 0x20 || body[i] === 0x0a || body[i] === 0x0d || body[i] === 0x09)) i++;
  if (body[i] !== 0x3a) return undefined;
  i++;
  while (i < body.length && (body[i] === 0x20 || body[i] === 0x0a || body[i] === 0x0d || body[i] === 0x09)) i++;
  if (body[i] !== OPEN) return undefined;
  const start = i;
  const end = objectEnd(body, start);
  if (end < 0) return undefined;
  const rootEnd = firstUnmatchedClose(body, end + 1);
  if (rootEnd < 0) return undefined;
  for (let k = rootEnd + 1; k < body.length; k++) if (body[k] !== 0x20 && body[k] !== 0x0a && body[k] !== 0x0d && body[k] !== 0x09) return undefined;
  try {
    return usageOf({ usage: JSON.parse(body.subarray(start, end + 1).toString("utf8")) });
  } catch {
    return undefined;
  }
}

/** Index of the `}` closing the object whose `{` is at `open`, strings skipped; -1 if none. */
function objectEnd(b: Buffer, open: number): number {
  let depth = 0;
  for (let i = open; i < b.length; i++) {
    const c = b[i]!;
    if (c === QUOTE) i = stringEnd(b, i);
    else if (c === OPEN) depth++;
    else if (c === CLOSE && --depth === 0) return i;
  }
  return -1;
}

/** Index of the first `}` after `from` that closes an object opened before it (the root's, for a top-level key), strings skipped; -1 if none. */
function firstUnmatchedClose(b: Buffer, from: number): number {
  let depth = 0;
  for (let i = from; i < b.length; i++) {
    const c = b[i]!;
    if (c === QUOTE) i = stringEnd(b, i);
    else if (c === OPEN) depth++;
    else if (c === CLOSE && --depth < 0) return i;
  }
  return -1;
}

/** Index of the quote ending the string whose opening quote is at `open` (or the end of the buffer). */
function stringEnd(b: Buffer, open: number): number {
  let i = open + 1;
  while (i < b.length && b[i] !== QUOTE) i += b[i] === BACKSLASH ? 2 : 1;
  return i;
}

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
      chunks.push(Buffer.from(chunk));
    },
    result() {
      if (overflow || size === 0) return NONE;
      try {
        return usageOf(JSON.parse(Buffer.concat(chunks).toString("utf8"))) ?? NONE;
      } catch {
        return NONE;
      }
    },
  };
}

import { StringDecoder } from "node:string_decoder";
import type { GenerationKind } from "./redact-request.js";
import type { RedactionCounts, Redactor } from "./redact-text.js";
import { StreamingRedactor } from "./streaming-text.js";

/** An SSE line longer than this cannot be redacted safely; the stream is failed instead. */
export const MAX_SSE_LINE_BYTES = 1024 * 1024;

export class SseLineTooLong extends Error {
  constructor() {
    super(`an SSE line longer than ${MAX_SSE_LINE_BYTES} bytes`);
  }
}

interface ChunkHead {
  id?: unknown;
  object?: unknown;
  created?: unknown;
  model?: unknown;
}

/**
 * Redacts an OpenAI-style SSE stream as it passes: each choice's text (chat
 * `delta.content`, completion `text`) runs through its own streaming redactor, so
 * values split across events are caught. Events are re-serialised only when they
 * carry text; everything else passes as it came.
 */
export class SseRedactor {
  private readonly decoder = new StringDecoder("utf8");
  private partial = "";
  private readonly choices = new Map<number, StreamingRedactor>();
  private head: ChunkHead = {};

  constructor(
    private readonly kind: GenerationKind,
    private readonly r: Redactor,
    private readonly counts: RedactionCounts,
  ) {}

  /** Bytes in, the bytes to send now out (complete lines only). */
  push(chunk: Buffer): string {
    const text = this.partial + this.decoder.write(chunk);
    const last = text.lastIndexOf("\n");
    if (last < 0) {
      this.partial = text;
      if (this.partial.length > MAX_SSE_LINE_BYTES) throw new SseLineTooLong();
      return "";
    }
    this.partial = text.slice(last + 1);
    if (this.partial.length > MAX_SSE_LINE_BYTES) throw new SseLineTooLong();
    let out = "";
    let start = 0;
    while (start <= last) {
      const nl = text.indexOf("\n", start);
      out += this.line(text.slice(start, nl)) + "\n";
      start = nl + 1;
    }
    return out;
  }

  /** At the end of the upstream: what is still held, as a final event. */
  end(): string {
    const rest = this.partial + this.decoder.end();
    this.partial = "";
    return (rest === "" ? "" : this.line(rest)) + this.flushEvent();
  }

  private line(raw: string): string {
    const cr = raw.endsWith("\r");
    const lineText = cr ? raw.slice(0, -1) : raw;
    if (!lineText.startsWith("data:")) return raw;
    const payload = lineText.slice(5).trimStart();
    if (payload === "[DONE]") {
      // Held text goes out before the end marker, as its own event.
      const flushed = this.flushEvent();
      return flushed === "" ? raw : flushed + raw;
    }
    if (!payload.includes('"choices"')) return raw;
    let obj: { choices?: unknown } & ChunkHead;
    try {
      obj = JSON.parse(payload) as typeof obj;
    } catch {
      return raw;
    }
    if (!Array.isArray(obj.choices)) return raw;
    this.head = { id: obj.id, object: obj.object, created: obj.created, model: obj.model };
    let changed = false;
    for (const c of obj.choices as Record<string, unknown>[]) {
      if (typeof c !== "object" || c === null) continue;
      const index = typeof c.index === "number" ? c.index : 0;
      const holder = this.kind === "chat" ? (c.delta as Record<string, unknown> | undefined) : c;
      const field = this.kind === "chat" ? "content" : "text";
      const finished = c.finish_reason !== null && c.finish_reason !== undefined;
      if (holder && typeof holder === "object" && typeof holder[field] === "string") {
        const red = this.redactor(index);
        let out = red.push(holder[field] as string);
        if (finished) out += red.flush();
        if (out !== holder[field]) {
          holder[field] = out;
          changed = true;
        }
      } else if (finished) {
        const red = this.choices.get(index);
        const out = red ? red.flush() : "";
        if (out !== "" && holder && typeof holder === "object") {
          holder[field] = out;
          changed = true;
        }
      }
    }
    return changed ? `data: ${JSON.stringify(obj)}${cr ? "\r" : ""}` : raw;
  }

  private redactor(index: number): StreamingRedactor {
    let r = this.choices.get(index);
    if (!r) {
      r = new StreamingRedactor(this.r, this.counts);
      this.choices.set(index, r);
    }
    return r;
  }

  /** An event carrying every choice's held text, or "" when nothing is held. */
  private flushEvent(): string {
    const choices: Record<string, unknown>[] = [];
    for (const [index, red] of this.choices) {
      const text = red.flush();
      if (text === "") continue;
      choices.push(this.kind === "chat" ? { index, delta: { content: text }, finish_reason: null } : { index, text, finish_reason: null });
    }
    if (choices.length === 0) return "";
    return `data: ${JSON.stringify({ ...this.head, choices })}\n\n`;
  }
}

/** A whole JSON answer (non-streaming): choices' message contents or texts redacted. Null when unchanged. */
export function redactResponseJson(kind: GenerationKind, body: Buffer, r: Redactor, counts: RedactionCounts): Buffer | null {
  if (!r.active || kind === "embedding") return null;
  let obj: { choices?: unknown };
  try {
    obj = JSON.parse(body.toString("utf8")) as typeof obj;
  } catch {
    return null;
  }
  if (!Array.isArray(obj.choices)) return null;
  let changed = false;
  for (const c of obj.choices as Record<string, unknown>[]) {
    if (typeof c !== "object" || c === null) continue;
    const holder = kind === "chat" ? (c.message as Record<string, unknown> | undefined) : c;
    const field = kind === "chat" ? "content" : "text";
    if (!holder || typeof holder !== "object" || typeof holder[field] !== "string") continue;
    const red = new StreamingRedactor(r, counts);
    const out = red.push(holder[field] as string) + red.flush();
    if (out !== holder[field]) {
      holder[field] = out;
      changed = true;
    }
  }
  return changed ? Buffer.from(JSON.stringify(obj)) : null;
}

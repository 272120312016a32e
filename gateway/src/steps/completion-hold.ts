const EMPTY = Buffer.alloc(0);
const NL = 0x0a;
const DONE = ["data: [DONE]", "data:[DONE]"].map((s) => Buffer.from(s));

/** Passes an answer through while keeping back what would let a client see it complete. */
export interface CompletionHold {
  /** What may be sent now. */
  push(chunk: Buffer): Buffer;
  /** What was kept back: send it only once the request's audit record is durable. */
  rest(): Buffer;
}

/**
 * DESIGN §3.7: the record is on disk before the response completes, so a crash can never
 * leave a client holding a complete answer that has no record. What completes an answer
 * for a client is kept back until then:
 * - a body of known length: its last byte (no client accepts it short);
 * - an SSE stream: the `data: [DONE]` event and everything after it, plus an incomplete
 *   last line (no client can use half a line, so holding it costs no latency).
 * The end of a chunked response (res.end) already comes after the record.
 */
export function createCompletionHold(sse: boolean): CompletionHold {
  return sse ? sseHold() : lastByteHold();
}

function lastByteHold(): CompletionHold {
  let last = EMPTY;
  return {
    push(chunk) {
      if (chunk.length === 0) return EMPTY;
      const buf = last.length > 0 ? Buffer.concat([last, chunk]) : chunk;
      last = Buffer.from(buf.subarray(buf.length - 1));
      return buf.subarray(0, buf.length - 1);
    },
    rest: () => last,
  };
}

function sseHold(): CompletionHold {
  let partial = EMPTY;
  let held: Buffer[] | null = null;
  return {
    push(chunk) {
      if (held !== null) {
        held.push(chunk);
        return EMPTY;
      }
      const buf = partial.length > 0 ? Buffer.concat([partial, chunk]) : chunk;
      const end = buf.lastIndexOf(NL) + 1;
      const lines = buf.subarray(0, end);
      partial = Buffer.from(buf.subarray(end));
      const at = doneLine(lines);
      if (at < 0) return lines;
      held = [Buffer.from(lines.subarray(at)), partial];
      partial = EMPTY;
      return lines.subarray(0, at);
    },
    rest: () => Buffer.concat([...(held ?? []), partial]),
  };
}

/** Offset of a `data: [DONE]` line in whole lines, or -1. */
function doneLine(lines: Buffer): number {
  let best = -1;
  for (const marker of DONE) {
    for (let i = lines.indexOf(marker); i >= 0; i = lines.indexOf(marker, i + 1)) {
      if (i === 0 || lines[i - 1] === NL) {
        if (best < 0 || i < best) best = i;
        break;
      }
    }
  }
  return best;
}

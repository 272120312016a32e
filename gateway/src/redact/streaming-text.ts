import type { PiiClass } from "@enclave/contracts";
import { findAllCandidates, findPii, redactText, replaceSpans, type RedactionCounts, type Redactor } from "./redact-text.js";

/** Characters a value of each class can be made of, and the longest value as written. */
const RUNS: Record<PiiClass, { chars: RegExp; starts: RegExp; max: number }> = {
  email: { chars: /[A-Za-z0-9.!#$%&'*+/=?^_`{|}~@-]/, starts: /[A-Za-z0-9!#$%&'*+/=?^_`{|}~-]/, max: 64 + 1 + 253 },
  phone: { chars: /[0-9+() ./-]/, starts: /[0-9+(]/, max: 32 },
  iban: { chars: /[A-Z0-9 ]/, starts: /[A-Z]/, max: 42 },
  card: { chars: /[0-9 -]/, starts: /[0-9]/, max: 40 },
  us_ssn: { chars: /[0-9 -]/, starts: /[0-9]/, max: 11 },
  ipv4: { chars: /[0-9.]/, starts: /[0-9]/, max: 15 },
  ipv6: { chars: /[0-9A-Fa-f:.]/, starts: /[0-9A-Fa-f:]/, max: 45 },
};

/**
 * Where the part of `text` that could still grow into a value begins: for each
 * class, the trailing run of characters such a value is made of (starting where a
 * value can start, at most as long as the longest value). Everything before the
 * earliest of these can be redacted and sent now; the rest is held back.
 */
export function holdBackFrom(text: string, classes: readonly PiiClass[]): number {
  let from = text.length;
  for (const cls of classes) {
    const { chars, starts, max } = RUNS[cls];
    let i = text.length;
    while (i > 0 && text.length - i < max && chars.test(text[i - 1]!)) i--;
    while (i < text.length && !starts.test(text[i]!)) i++;
    if (i < from) from = i;
  }
  return from;
}

/**
 * Redacts text that arrives in pieces (one stream choice's tokens), so a value
 * split across pieces is still caught, holding back only the tail that could
 * still be part of one.
 */
export class StreamingRedactor {
  private pending = "";

  constructor(
    private readonly r: Redactor,
    private readonly counts: RedactionCounts,
  ) {}

  /** The redacted text that can be sent now (possibly ""). */
  push(piece: string): string {
    if (!this.r.active) return piece;
    const text = this.pending + piece;
    let cut = holdBackFrom(text, this.r.classes);
    if (cut === 0) {
      this.pending = text;
      return "";
    }
    // Any candidate value in the whole text that crosses the cut is held back whole.
    const candidates = findAllCandidates(text, this.r.classes);
    for (let moved = true; moved; ) {
      moved = false;
      for (const s of candidates) {
        if (s.start < cut && s.end > cut) {
          cut = s.start;
          moved = true;
        }
      }
    }
    // Redact the head as part of the whole text, so its artificial end is no word boundary.
    // A value found only once others are replaced may cross the cut: hold it back whole too,
    // rather than drop it from the head and send that part in clear.
    let current = text;
    for (let pass = 0; pass < 8; pass++) {
      const found = findPii(current, this.r.classes);
      for (const s of found) if (s.start < cut && s.end > cut) cut = s.start;
      const spans = found.filter((s) => s.end <= cut);
      if (spans.length === 0) break;
      const before = current.length;
      current = replaceSpans(current.slice(0, cut), spans, this.counts) + current.slice(cut);
      cut += current.length - before;
    }
    // Never send a head that still holds a value: hold everything until it resolves.
    if (findPii(current.slice(0, cut), this.r.classes).length > 0) {
      this.pending = current;
      return "";
    }
    this.pending = current.slice(cut);
    return current.slice(0, cut);
  }

  /** Everything still held, redacted: at the end of the choice or the stream. */
  flush(): string {
    const rest = this.pending;
    this.pending = "";
    return redactText(rest, this.r, this.counts);
  }

  get held(): number {
    return this.pending.length;
  }
}

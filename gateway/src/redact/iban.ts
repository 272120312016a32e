import { ibanChecksumValid } from "./checksums.js";
import type { Span } from "./span.js";

/** IBAN lengths by country (ISO 13616 registry, the common ones); others may be 15–34. */
const LENGTHS: Record<string, number> = {
  AD: 24, AE: 23, AL: 28, AT: 20, AZ: 28, BA: 20, BE: 16, BG: 22, BH: 22, BR: 29, CH: 21, CR: 22, CY: 28, CZ: 24,
  DE: 22, DK: 18, DO: 28, EE: 20, EG: 29, ES: 24, FI: 18, FO: 18, FR: 27, GB: 22, GE: 22, GI: 23, GL: 18, GR: 27,
  GT: 28, HR: 21, HU: 28, IE: 22, IL: 23, IQ: 23, IS: 26, IT: 27, JO: 30, KW: 30, KZ: 20, LB: 28, LI: 21, LT: 20,
  LU: 20, LV: 21, MC: 27, MD: 24, ME: 22, MK: 19, MR: 27, MT: 31, MU: 30, NL: 18, NO: 15, PK: 24, PL: 28, PS: 29,
  PT: 25, QA: 29, RO: 24, RS: 22, SA: 24, SE: 24, SI: 19, SK: 24, SM: 27, TN: 24, TR: 26, UA: 29, VG: 24, XK: 20,
};

/** Country code and check digits, then up to 30 more characters in optional groups. */
const CANDIDATE = /(?<![A-Za-z0-9])[A-Z]{2}\d{2}(?: ?[A-Z0-9]){11,30}/g;

/**
 * IBANs, compact or in groups of four, upper case, passing the mod-97 check. The
 * country's length says where the IBAN ends, so text running on after it does
 * not hide it; unknown countries try every length from the longest down.
 */
export function findIbans(text: string): Span[] {
  const spans: Span[] = [];
  let from = 0;
  CANDIDATE.lastIndex = 0;
  for (;;) {
    CANDIDATE.lastIndex = from;
    const m = CANDIDATE.exec(text);
    if (m === null) break;
    const span = bestIban(text, m.index, m.index + m[0].length);
    if (span) spans.push(span);
    // An IBAN may start inside a candidate found before: resume at the next character, not after it.
    from = m.index + 1;
  }
  return spans;
}

function bestIban(text: string, start: number, end: number): Span | undefined {
  // Compact characters and the text offset just after each.
  let compact = "";
  const endAt: number[] = [];
  for (let i = start; i < end; i++) {
    const ch = text[i]!;
    if (ch === " ") continue;
    compact += ch;
    endAt.push(i + 1);
  }
  const known = LENGTHS[compact.slice(0, 2)];
  const lengths = known !== undefined ? [known] : range(Math.min(34, compact.length), 15);
  for (const len of lengths) {
    if (len > compact.length) continue;
    const e = endAt[len - 1]!;
    // The IBAN must not run on into a letter or digit.
    if (e < text.length && /[A-Za-z0-9]/.test(text[e]!)) continue;
    if (ibanChecksumValid(compact.slice(0, len))) return { cls: "iban", start, end: e };
  }
  return undefined;
}

function range(from: number, downTo: number): number[] {
  const out: number[] = [];
  for (let n = from; n >= downTo; n--) out.push(n);
  return out;
}

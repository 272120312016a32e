import type { Span } from "./span.js";

/** Digit groups joined by single spaces or hyphens, not touching other digits. */
const RUN = /(?<![\d])\d+(?:[ -]\d+)*(?![\d])/g;

const MIN_DIGITS = 13;
const MAX_DIGITS = 19;

/**
 * Payment card numbers: 13–19 digits passing the Luhn check, written plain or in
 * groups separated by spaces or hyphens. In a run of groups every group-aligned
 * window of 13–19 digits is a candidate, overlapping ones included: which window
 * is "the" card cannot be known (one in ten random windows passes Luhn), so the
 * caller redacts their union and a card running into neighbouring numbers is never
 * left partly in clear because a window straddling it was picked instead.
 */
export function findCards(text: string): Span[] {
  const spans: Span[] = [];
  for (const m of text.matchAll(RUN)) {
    if (m[0].length < MIN_DIGITS) continue;
    const starts: number[] = [];
    const ends: number[] = [];
    const base = m.index;
    const run = m[0];
    for (let k = 0; k < run.length; ) {
      starts.push(base + k);
      while (k < run.length && run.charCodeAt(k) !== 32 && run.charCodeAt(k) !== 45) k++;
      ends.push(base + k);
      k++;
    }
    // Windows ending at group j, grown leftwards: the Luhn sum is kept from the right, so each digit is added once.
    for (let j = 0; j < ends.length; j++) {
      let sum = 0;
      let n = 0;
      for (let i = j; i >= 0; i--) {
        for (let k = ends[i]! - 1; k >= starts[i]!; k--) {
          let d = text.charCodeAt(k) - 48;
          if ((n & 1) === 1) {
            d *= 2;
            if (d > 9) d -= 9;
          }
          sum += d;
          n++;
        }
        if (n > MAX_DIGITS) break;
        // No card number starts with 0 (ISO/IEC 7812), which also keeps "00" + card from hiding a card.
        if (n >= MIN_DIGITS && sum % 10 === 0 && text.charCodeAt(starts[i]!) !== 48) {
          spans.push({ cls: "card", start: starts[i]!, end: ends[j]! });
        }
      }
    }
  }
  return spans;
}

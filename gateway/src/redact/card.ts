import { luhnValid } from "./checksums.js";
import type { Span } from "./span.js";

/** Digit groups joined by single spaces or hyphens, not touching other digits. */
const RUN = /(?<![\d])\d+(?:[ -]\d+)*(?![\d])/g;

/**
 * Payment card numbers: 13–19 digits passing the Luhn check, written plain or in
 * groups separated by spaces or hyphens. In a longer run of groups, every
 * group-aligned window of 13–19 digits is tried, so a card followed by more
 * numbers is still found.
 */
export function findCards(text: string): Span[] {
  const spans: Span[] = [];
  for (const m of text.matchAll(RUN)) {
    const run = m[0];
    if (run.length < 13) continue;
    const groups: { start: number; end: number; digits: string }[] = [];
    const re = /\d+/g;
    for (let g = re.exec(run); g !== null; g = re.exec(run)) groups.push({ start: m.index + g.index, end: m.index + g.index + g[0].length, digits: g[0] });
    let i = 0;
    while (i < groups.length) {
      let found = false;
      // Longest window first from group i, so a grouped 16-digit card is one value.
      let digits = "";
      const windows: { end: number; digits: string }[] = [];
      for (let j = i; j < groups.length; j++) {
        digits += groups[j]!.digits;
        if (digits.length > 19) break;
        // No card number starts with 0 (ISO/IEC 7812), which also keeps "00" + card from hiding a card.
        if (digits.length >= 13 && digits[0] !== "0") windows.push({ end: j, digits });
      }
      for (let w = windows.length - 1; w >= 0; w--) {
        if (luhnValid(windows[w]!.digits)) {
          spans.push({ cls: "card", start: groups[i]!.start, end: groups[windows[w]!.end]!.end });
          i = windows[w]!.end + 1;
          found = true;
          break;
        }
      }
      if (!found) i++;
    }
  }
  return spans;
}

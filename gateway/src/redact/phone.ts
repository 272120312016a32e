import { everyMatch, type Span } from "./span.js";

/**
 * Phone numbers:
 * - international: `+` and 8–15 digits, groups separated by spaces, dots, hyphens or
 *   a parenthesised area code (E.164 as people write it);
 * - North American: (555) 123-4567, 555-123-4567, 555.123.4567;
 * - national with a trunk 0: 030 1234567, 020 7946 0958, 0151-23456789, 01 23 45 67 89,
 *   or 10–11 digits starting with 0 written together.
 * A match never touches another digit. Matches may overlap (a number running into
 * another is tried from each start); the caller redacts their union.
 */
const PATTERNS: RegExp[] = [
  /(?<![\d])\+\d(?:[ .-]?\(?\d\)?){7,14}(?![\d])/g,
  /(?<![\d])(?:\(\d{3}\) ?|\d{3}[-. ])\d{3}[-. ]\d{4}(?![\d])/g,
  /(?<![\d])0\d{1,4}(?:[ /-]\d{2,8}){1,4}(?![\d])/g,
  /(?<![\d])0\d{9,10}(?![\d])/g,
];

export function findPhones(text: string): Span[] {
  const spans: Span[] = [];
  for (const re of PATTERNS) {
    for (const m of everyMatch(re, text)) {
      const international = m[0].startsWith("+");
      const [min, max] = international ? [8, 15] : [9, 12];
      let value = m[0];
      // Numbers running on after a phone number: drop whole trailing groups until it fits.
      while (countDigits(value) > max) {
        const cut = Math.max(value.lastIndexOf(" "), value.lastIndexOf("-"), value.lastIndexOf("."), value.lastIndexOf("/"));
        if (cut <= 0) break;
        value = value.slice(0, cut).replace(/[ ./(-]+$/, "");
      }
      const digits = countDigits(value);
      if (digits < min || digits > max) continue;
      spans.push({ cls: "phone", start: m.index, end: m.index + value.length });
    }
  }
  return spans;
}

function countDigits(s: string): number {
  let n = 0;
  for (let i = 0; i < s.length; i++) {
    const c = s.charCodeAt(i);
    if (c >= 48 && c <= 57) n++;
  }
  return n;
}

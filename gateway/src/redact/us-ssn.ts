import { everyMatch, type Span } from "./span.js";

/**
 * US social security numbers as written: AAA-GG-SSSS (or with spaces), excluding
 * numbers never issued (area 000, 666, 900–999; group 00; serial 0000).
 */
const SSN = /(?<![\d-])(?!000|666|9\d\d)\d{3}([- ])(?!00)\d{2}\1(?!0000)\d{4}(?![\d-])/g;

export function findUsSsns(text: string): Span[] {
  const spans: Span[] = [];
  for (const m of everyMatch(SSN, text)) spans.push({ cls: "us_ssn", start: m.index, end: m.index + m[0].length });
  return spans;
}

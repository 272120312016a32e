import type { Span } from "./span.js";

/** RFC 5322 atext plus dots: what a local part may hold. */
const LOCAL = /[A-Za-z0-9.!#$%&'*+/=?^_`{|}~-]/;
const DOMAIN = /[A-Za-z0-9.-]/;
const MAX_LOCAL = 64;
const MAX_DOMAIN = 253;

/**
 * local@domain, where the domain has at least two labels and its last label is
 * letters (2–63). Scans outward from each '@' with bounded lengths, so no input
 * can make it backtrack.
 */
export function findEmails(text: string): Span[] {
  const spans: Span[] = [];
  let at = text.indexOf("@");
  let minStart = 0;
  while (at >= 0) {
    let start = at;
    while (start > minStart && at - start < MAX_LOCAL && LOCAL.test(text[start - 1]!)) start--;
    while (start < at && text[start] === ".") start++;
    let end = at + 1;
    while (end < text.length && end - at - 1 < MAX_DOMAIN && DOMAIN.test(text[end]!)) end++;
    const domainEnd = trimDomain(text, at + 1, end);
    if (start < at && domainEnd > 0) {
      spans.push({ cls: "email", start, end: domainEnd });
      minStart = domainEnd;
      at = text.indexOf("@", domainEnd);
    } else {
      at = text.indexOf("@", at + 1);
    }
  }
  return spans;
}

/** The end of the longest valid domain starting at `from` within [from, to), or 0. */
function trimDomain(text: string, from: number, to: number): number {
  const labels = text.slice(from, to).split(".");
  while (labels.length >= 2) {
    const last = labels[labels.length - 1]!;
    const ok =
      /^[A-Za-z]{2,63}$/.test(last) &&
      labels.every((l) => l.length >= 1 && l.length <= 63 && !l.startsWith("-") && !l.endsWith("-"));
    if (ok) return from + labels.join(".").length;
    labels.pop();
  }
  return 0;
}

import { isIPv6 } from "node:net";
import { everyMatch, wordBoundaryAt, type Span } from "./span.js";

const OCTET = "(?:25[0-5]|2[0-4]\\d|1\\d\\d|[1-9]?\\d)";
const IPV4 = new RegExp(`(?<![\\d.])${OCTET}(?:\\.${OCTET}){3}(?![\\d])(?!\\.\\d)`, "g");

/** Dotted-quad IPv4 addresses. */
export function findIpv4s(text: string): Span[] {
  const spans: Span[] = [];
  for (const m of everyMatch(IPV4, text)) spans.push({ cls: "ipv4", start: m.index, end: m.index + m[0].length });
  return spans;
}

const RUN = /[0-9A-Fa-f:.]{2,45}/g;

/**
 * IPv6 addresses (any textual form node:net accepts, IPv4-mapped included), as a
 * whole word, with at least three groups or `::` and five hex digits, so code like
 * `std::vector` or `a::b` is not taken for an address.
 */
export function findIpv6s(text: string): Span[] {
  const spans: Span[] = [];
  for (const m of text.matchAll(RUN)) {
    let s = m[0];
    if (s.indexOf(":") === s.lastIndexOf(":")) continue;
    let start = m.index;
    if (!wordBoundaryAt(text, start - 1) || !wordBoundaryAt(text, start + s.length)) continue;
    while (s.startsWith(".")) {
      s = s.slice(1);
      start++;
    }
    // Sentence punctuation after an address is not part of it: drop trailing '.'/':' until it parses.
    while (!isIPv6(s) && (s.endsWith(".") || s.endsWith(":"))) s = s.slice(0, -1);
    const end = start + s.length;
    if (!isIPv6(s)) continue;
    const groups = s.split(":").filter((g) => g !== "").length;
    const hex = s.replace(/[^0-9A-Fa-f]/g, "").length;
    if (groups < 3 && !(s.includes("::") && hex >= 5)) continue;
    spans.push({ cls: "ipv6", start, end });
  }
  return spans;
}

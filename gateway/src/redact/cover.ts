import type { PiiClass } from "@enclave/contracts";
import type { Span } from "./span.js";

/** Ties between equally good choices follow this order (earlier wins). */
export const PRIORITY: readonly PiiClass[] = ["email", "iban", "card", "us_ssn", "ipv6", "ipv4", "phone"];

/**
 * Turns overlapping candidates into the spans to replace, in text order, non-overlapping.
 *
 * Every character of every candidate is covered: candidates that overlap form one
 * region and the whole region is redacted, so no choice between overlapping
 * candidates (a card window straddling the real card, a phone number inside an IBAN)
 * can leave part of a value in clear. Inside a region the values counted are the
 * largest set of non-overlapping candidates (then the one covering most, then by
 * class priority): values written next to each other are each counted and each get
 * their own placeholder, with the separators between them kept. A stretch of the
 * region that no chosen value covers is folded into its neighbour when it holds a
 * letter or digit, and kept verbatim when it is only punctuation or space.
 */
export function coverCandidates(text: string, candidates: Span[]): Span[] {
  if (candidates.length <= 1) return candidates;
  candidates.sort((a, b) => a.start - b.start || b.end - a.end || rank(a.cls) - rank(b.cls));
  const out: Span[] = [];
  let region: Span[] = [candidates[0]!];
  let regionEnd = candidates[0]!.end;
  for (let k = 1; k < candidates.length; k++) {
    const s = candidates[k]!;
    if (s.start < regionEnd) {
      region.push(s);
      if (s.end > regionEnd) regionEnd = s.end;
      continue;
    }
    emitRegion(text, region, regionEnd, out);
    region = [s];
    regionEnd = s.end;
  }
  emitRegion(text, region, regionEnd, out);
  return out;
}

function rank(cls: PiiClass): number {
  return PRIORITY.indexOf(cls);
}

function emitRegion(text: string, region: Span[], regionEnd: number, out: Span[]): void {
  if (region.length === 1) {
    out.push(region[0]!);
    return;
  }
  const chosen = bestIndependentSet(region);
  const regionStart = region[0]!.start;
  const first = out.length;
  for (let k = 0; k < chosen.length; k++) {
    const s = { ...chosen[k]! };
    const prev = out.length > first ? out[out.length - 1]! : null;
    const gapStart = prev ? prev.end : regionStart;
    if (gapStart < s.start && informative(text, gapStart, s.start)) {
      if (prev) prev.end = s.start;
      else s.start = regionStart;
    }
    out.push(s);
  }
  const last = out[out.length - 1]!;
  if (last.end < regionEnd && informative(text, last.end, regionEnd)) last.end = regionEnd;
}

/** Does text[from, to) hold a letter or digit (anything a value is made of beyond punctuation)? */
function informative(text: string, from: number, to: number): boolean {
  for (let i = from; i < to; i++) {
    const c = text.charCodeAt(i);
    if ((c >= 48 && c <= 57) || (c >= 65 && c <= 90) || (c >= 97 && c <= 122) || c > 127) return true;
  }
  return false;
}

interface Score {
  count: number;
  covered: number;
  rank: number;
}

function better(a: Score, b: Score): boolean {
  if (a.count !== b.count) return a.count > b.count;
  if (a.covered !== b.covered) return a.covered > b.covered;
  return a.rank < b.rank;
}

/**
 * Weighted interval scheduling: the most non-overlapping spans, then the most
 * characters covered, then the best class ranks. O(n log n).
 */
function bestIndependentSet(spans: Span[]): Span[] {
  const byEnd = [...spans].sort((a, b) => a.end - b.end || a.start - b.start);
  const n = byEnd.length;
  const best: Score[] = [{ count: 0, covered: 0, rank: 0 }];
  const take: boolean[] = [];
  const prevOf: number[] = [];
  for (let k = 0; k < n; k++) {
    const s = byEnd[k]!;
    // The last span (1-based index into best) ending at or before s starts.
    let lo = 0;
    let hi = k;
    while (lo < hi) {
      const mid = (lo + hi) >> 1;
      if (byEnd[mid]!.end <= s.start) lo = mid + 1;
      else hi = mid;
    }
    prevOf.push(lo);
    const base = best[lo]!;
    const withS: Score = { count: base.count + 1, covered: base.covered + (s.end - s.start), rank: base.rank + rank(s.cls) };
    const without = best[k]!;
    if (better(withS, without)) {
      best.push(withS);
      take.push(true);
    } else {
      best.push(without);
      take.push(false);
    }
  }
  const chosen: Span[] = [];
  for (let k = n; k > 0; ) {
    if (take[k - 1]) {
      chosen.push(byEnd[k - 1]!);
      k = prevOf[k - 1]!;
    } else {
      k--;
    }
  }
  return chosen.reverse();
}

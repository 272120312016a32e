import type { PiiClass } from "@enclave/contracts";
import { findCards } from "./card.js";
import { coverCandidates, PRIORITY } from "./cover.js";
import { findEmails } from "./email.js";
import { findIbans } from "./iban.js";
import { findIpv4s, findIpv6s } from "./ip.js";
import { findPhones } from "./phone.js";
import type { Detector, Span } from "./span.js";
import { findUsSsns } from "./us-ssn.js";

export const DETECTORS: Record<PiiClass, Detector> = {
  email: findEmails,
  phone: findPhones,
  iban: findIbans,
  card: findCards,
  us_ssn: findUsSsns,
  ipv4: findIpv4s,
  ipv6: findIpv6s,
};

/**
 * What a value is replaced with. No digits, '@', ':' or '.', so a replacement can
 * never be (part of) a value itself, and each pass strictly removes those characters.
 */
export const REPLACEMENT: Record<PiiClass, string> = {
  email: "[REDACTED_EMAIL]",
  phone: "[REDACTED_PHONE]",
  iban: "[REDACTED_IBAN]",
  card: "[REDACTED_CARD]",
  us_ssn: "[REDACTED_SSN]",
  ipv4: "[REDACTED_IP]",
  ipv6: "[REDACTED_IP]",
};

export type RedactionCounts = Partial<Record<PiiClass, number>>;

/** The classes a tenant asked for, in priority order, ready to run. */
export interface Redactor {
  readonly classes: readonly PiiClass[];
  /** Any of digits, '@' or ':' present? Every value has one; text without them is skipped at once. */
  readonly active: boolean;
}

export function createRedactor(classes: readonly PiiClass[] | undefined): Redactor {
  const set = new Set(classes ?? []);
  const ordered = PRIORITY.filter((c) => set.has(c));
  return { classes: ordered, active: ordered.length > 0 };
}

/** True when the text has no digit, '@' or ':': then no class can match. */
export function cannotHoldPii(text: string): boolean {
  for (let i = 0; i < text.length; i++) {
    const c = text.charCodeAt(i);
    if ((c >= 48 && c <= 58) || c === 64) return false;
  }
  return true;
}

/** What a text is made of, counted in one pass: enough to rule classes out before any regex runs. */
interface Census {
  digits: number;
  /**
   * The most digits in one stretch of digits and number punctuation (space . ( ) / + -):
   * every card, SSN and phone number lies inside one such stretch.
   */
  runDigits: number;
  at: number;
  colons: number;
  dots: number;
  uppers: number;
}

function census(text: string): Census {
  const c: Census = { digits: 0, runDigits: 0, at: 0, colons: 0, dots: 0, uppers: 0 };
  let run = 0;
  for (let i = 0; i < text.length; i++) {
    const ch = text.charCodeAt(i);
    if (ch >= 48 && ch <= 57) {
      c.digits++;
      if (++run > c.runDigits) c.runDigits = run;
      continue;
    }
    if (ch === 46) c.dots++;
    // space ( ) + - . / keep a stretch going; anything else ends it.
    if (ch === 32 || ch === 40 || ch === 41 || ch === 43 || ch === 45 || ch === 46 || ch === 47) continue;
    run = 0;
    if (ch >= 65 && ch <= 90) c.uppers++;
    else if (ch === 58) c.colons++;
    else if (ch === 64) c.at++;
  }
  return c;
}

/**
 * Necessary conditions per class (each value of the class has at least this much): a
 * class whose condition fails cannot match anywhere in the text, so its detector is not
 * run. Ordinary prose with a date or a price in it skips most regexes this way.
 */
const POSSIBLE: Record<PiiClass, (c: Census) => boolean> = {
  email: (c) => c.at > 0,
  // International numbers have 8+ digits, national ones 9+, North American 10.
  phone: (c) => c.runDigits >= 8,
  // Country code (two capitals) and two check digits at least.
  iban: (c) => c.uppers >= 2 && c.digits >= 2,
  card: (c) => c.runDigits >= 13,
  us_ssn: (c) => c.runDigits >= 9,
  ipv4: (c) => c.digits >= 4 && c.dots >= 3,
  ipv6: (c) => c.colons >= 2,
};

/** Every candidate value of the given classes, overlapping ones included. */
export function findAllCandidates(text: string, classes: readonly PiiClass[]): Span[] {
  if (classes.length === 0 || cannotHoldPii(text)) return [];
  const c = census(text);
  const all: Span[] = [];
  for (const cls of classes) {
    if (!POSSIBLE[cls](c)) continue;
    for (const s of DETECTORS[cls](text)) all.push(s);
  }
  return all;
}

/**
 * What to replace in `text` for the given classes: non-overlapping spans in text
 * order that together cover every candidate value (see coverCandidates).
 */
export function findPii(text: string, classes: readonly PiiClass[]): Span[] {
  return coverCandidates(text, findAllCandidates(text, classes));
}

export function replaceSpans(text: string, spans: readonly Span[], counts: RedactionCounts): string {
  let out = "";
  let at = 0;
  for (const s of spans) {
    out += text.slice(at, s.start) + REPLACEMENT[s.cls];
    at = s.end;
    counts[s.cls] = (counts[s.cls] ?? 0) + 1;
  }
  return out + text.slice(at);
}

/** Passes are bounded; every pass removes at least one digit, '@' or ':', so few are ever needed. */
const MAX_PASSES = 8;

/**
 * Replaces every value of `r`'s classes, adding to `counts`. Repeats until a pass
 * finds nothing, so the result holds no value of those classes even where
 * removing one brought others together. Text without values comes back as the
 * same string.
 */
export function redactText(text: string, r: Redactor, counts: RedactionCounts): string {
  if (!r.active) return text;
  let current = text;
  for (let pass = 0; pass < MAX_PASSES; pass++) {
    const spans = findPii(current, r.classes);
    if (spans.length === 0) return current;
    current = replaceSpans(current, spans, counts);
  }
  // Still finding values after MAX_PASSES: fail closed on this text.
  const left = findPii(current, r.classes);
  return left.length === 0 ? current : replaceSpans(current, [{ cls: left[0]!.cls, start: 0, end: current.length }], counts);
}

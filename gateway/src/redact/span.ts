import type { PiiClass } from "@enclave/contracts";

/** Where one PII value sits in a text: [start, end) in UTF-16 code units. */
export interface Span {
  cls: PiiClass;
  start: number;
  end: number;
}

/** A detector finds every value of its class; it is pure and never throws. */
export type Detector = (text: string) => Span[];

const WORD = /[A-Za-z0-9_]/;

/** True when the character at `i` is absent or not a letter, digit or underscore. */
export function wordBoundaryAt(text: string, i: number): boolean {
  return i < 0 || i >= text.length || !WORD.test(text[i]!);
}

export function isDigitCode(c: number): boolean {
  return c >= 48 && c <= 57;
}

/**
 * Every match of the global regex `re` starting at any position, overlapping ones
 * included (matchAll resumes after a match, so a value starting inside an earlier
 * match would be hidden from the detector).
 */
export function* everyMatch(re: RegExp, text: string): Generator<RegExpExecArray> {
  re.lastIndex = 0;
  for (let m = re.exec(text); m !== null; m = re.exec(text)) {
    yield m;
    re.lastIndex = m.index + 1;
  }
}

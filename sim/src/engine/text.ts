/**
 * Deterministic stand-ins for a tokenizer and a model: counts and text that are
 * plausible, stable across runs, and cheap on large inputs.
 */

const PHRASE = [" This", " is", " a", " simulated", " answer", " from", " the", " Enclave", " engine", " simulator", "."];

/** The i-th generated token: the phrase, cycled. */
export function tokenText(i: number): string {
  const t = PHRASE[i % PHRASE.length] ?? "";
  return i === 0 ? t.trimStart() : t;
}

export function generatedText(count: number): string {
  let s = "";
  for (let i = 0; i < count; i++) s += tokenText(i);
  return s;
}

/** Word pieces: a run of letters or digits is one, any other non-space character is one. No allocation per piece. */
export function countPieces(text: string): number {
  let n = 0;
  let inWord = false;
  for (let i = 0; i < text.length; i++) {
    const c = text.charCodeAt(i);
    const alnum = (c >= 48 && c <= 57) || (c >= 65 && c <= 90) || (c >= 97 && c <= 122) || c > 127;
    if (alnum) {
      if (!inWord) n++;
      inWord = true;
    } else {
      inWord = false;
      if (c !== 32 && c !== 9 && c !== 10 && c !== 13) n++;
    }
  }
  return n;
}

type ChatContent = string | null | undefined | readonly { type: string; text?: string | undefined }[];

/** Pieces plus a chat template's per-message framing and the assistant prefix, as a real template adds. */
export function chatPromptTokens(messages: readonly { content?: ChatContent }[]): number {
  const perMessage = 4;
  const assistantPrefix = 3;
  let n = assistantPrefix;
  for (const m of messages) {
    n += perMessage;
    const c = m.content;
    if (typeof c === "string") n += countPieces(c);
    else if (Array.isArray(c)) for (const part of c) if (typeof part.text === "string") n += countPieces(part.text);
  }
  return n;
}

/** A text prompt gets a beginning-of-sequence token; token ids count as themselves. */
export function completionPromptTokens(prompt: string | readonly string[] | readonly number[]): number {
  if (typeof prompt === "string") return 1 + countPieces(prompt);
  const first = prompt[0];
  if (typeof first === "string") return 1 + countPieces(first);
  return prompt.length;
}

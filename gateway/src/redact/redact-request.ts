import { redactText, type RedactionCounts, type Redactor } from "./redact-text.js";

export type GenerationKind = "chat" | "completion" | "embedding";

/**
 * Redacts, in place, every text the request carries to the model: chat message
 * contents (strings and the `text` of content parts), completion prompts and
 * embedding inputs. Returns whether anything changed, so an unchanged request
 * can travel as the exact bytes the client sent.
 */
export function redactRequestBody(kind: GenerationKind, body: Record<string, unknown>, r: Redactor, counts: RedactionCounts): boolean {
  if (!r.active) return false;
  switch (kind) {
    case "chat": {
      const messages = body.messages;
      if (!Array.isArray(messages)) return false;
      let changed = false;
      for (const m of messages) {
        if (typeof m !== "object" || m === null) continue;
        const msg = m as Record<string, unknown>;
        const content = msg.content;
        if (typeof content === "string") {
          const out = redactText(content, r, counts);
          if (out !== content) {
            msg.content = out;
            changed = true;
          }
        } else if (Array.isArray(content)) {
          for (const part of content) {
            if (typeof part !== "object" || part === null) continue;
            const p = part as Record<string, unknown>;
            if (typeof p.text !== "string") continue;
            const out = redactText(p.text, r, counts);
            if (out !== p.text) {
              p.text = out;
              changed = true;
            }
          }
        }
      }
      return changed;
    }
    case "completion":
      return redactField(body, "prompt", r, counts);
    case "embedding":
      return redactField(body, "input", r, counts);
  }
}

function redactField(body: Record<string, unknown>, key: string, r: Redactor, counts: RedactionCounts): boolean {
  const v = body[key];
  if (typeof v === "string") {
    const out = redactText(v, r, counts);
    if (out === v) return false;
    body[key] = out;
    return true;
  }
  if (!Array.isArray(v)) return false;
  let changed = false;
  for (let i = 0; i < v.length; i++) {
    const s = v[i];
    if (typeof s !== "string") continue;
    const out = redactText(s, r, counts);
    if (out !== s) {
      v[i] = out;
      changed = true;
    }
  }
  return changed;
}

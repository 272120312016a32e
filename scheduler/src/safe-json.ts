/** Parsed JSON, or undefined for text that is not JSON; the caller validates the shape. */
export function safeJson(text: string): unknown {
  try {
    return JSON.parse(text);
  } catch {
    return undefined;
  }
}

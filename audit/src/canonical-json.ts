/**
 * One byte sequence per value, so a hash over it means the same thing to every
 * verifier: object keys sorted by UTF-16 code units, no whitespace, JSON's own
 * number and string formatting (the same choices as RFC 8785 for the values
 * audit records hold). Values JSON cannot carry faithfully are rejected rather
 * than silently changed: NaN/Infinity, bigint, functions, symbols, undefined
 * outside an object property, and cycles.
 */
export function canonicalJson(v: unknown): string {
  return write(v, new Set(), "$");
}

function write(v: unknown, seen: Set<object>, path: string): string {
  if (v === null) return "null";
  switch (typeof v) {
    case "string":
    case "boolean":
      return JSON.stringify(v);
    case "number":
      if (!Number.isFinite(v)) throw new TypeError(`canonicalJson: non-finite number at ${path}`);
      return JSON.stringify(v);
    case "object":
      break;
    default:
      throw new TypeError(`canonicalJson: cannot encode ${typeof v} at ${path}`);
  }
  const obj = v as object;
  if (seen.has(obj)) throw new TypeError(`canonicalJson: cycle at ${path}`);
  seen.add(obj);
  try {
    if (Array.isArray(obj)) {
      return "[" + obj.map((x, i) => write(x, seen, `${path}[${i}]`)).join(",") + "]";
    }
    const toJSON = (obj as { toJSON?: unknown }).toJSON;
    if (typeof toJSON === "function") return write(toJSON.call(obj), seen, path);
    const parts: string[] = [];
    for (const key of Object.keys(obj).sort()) {
      const x = (obj as Record<string, unknown>)[key];
      if (x === undefined) continue; // as JSON.stringify: an absent property
      parts.push(JSON.stringify(key) + ":" + write(x, seen, `${path}.${key}`));
    }
    return "{" + parts.join(",") + "}";
  } finally {
    seen.delete(obj);
  }
}

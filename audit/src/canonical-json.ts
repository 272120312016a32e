/**
 * One byte sequence per value, so a hash over it means the same thing to every
 * verifier: object keys sorted by UTF-16 code units, no whitespace, JSON's own
 * number and string formatting (the same choices as RFC 8785 for the values
 * audit records hold). Values JSON cannot carry faithfully are rejected rather
 * than silently changed: NaN/Infinity, bigint, functions, symbols, undefined
 * outside an object property, and cycles.
 */
export function canonicalJson(v: unknown): string {
  try {
    return write(v, []);
  } catch (e) {
    if (e instanceof Unencodable) throw new TypeError(`canonicalJson: ${e.what} at $${e.path.join("")}`);
    throw e;
  }
}

/** Carries the path outwards only when something fails, so the hot path builds no path strings. */
class Unencodable extends Error {
  readonly path: string[] = [];
  constructor(readonly what: string) {
    super(what);
  }
}

function write(v: unknown, stack: object[]): string {
  if (v === null) return "null";
  switch (typeof v) {
    case "string":
      return JSON.stringify(v);
    case "boolean":
      return v ? "true" : "false";
    case "number":
      if (!Number.isFinite(v)) throw new Unencodable("non-finite number");
      return JSON.stringify(v);
    case "object":
      break;
    default:
      throw new Unencodable(`cannot encode ${typeof v}`);
  }
  const obj = v as object;
  if (stack.includes(obj)) throw new Unencodable("cycle");
  stack.push(obj);
  try {
    if (Array.isArray(obj)) {
      let out = "[";
      for (let i = 0; i < obj.length; i++) {
        try {
          out += (i === 0 ? "" : ",") + write(obj[i], stack);
        } catch (e) {
          if (e instanceof Unencodable) e.path.unshift(`[${i}]`);
          throw e;
        }
      }
      return out + "]";
    }
    const toJSON = (obj as { toJSON?: unknown }).toJSON;
    if (typeof toJSON === "function") return write(toJSON.call(obj), stack);
    const keys = Object.keys(obj).sort();
    let out = "{";
    let first = true;
    for (const key of keys) {
      const x = (obj as Record<string, unknown>)[key];
      if (x === undefined) continue; // as JSON.stringify: an absent property
      try {
        out += (first ? "" : ",") + JSON.stringify(key) + ":" + write(x, stack);
      } catch (e) {
        if (e instanceof Unencodable) e.path.unshift(`.${key}`);
        throw e;
      }
      first = false;
    }
    return out + "}";
  } finally {
    stack.pop();
  }
}

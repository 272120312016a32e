/** Compiled once per tenant: names match exactly, globs by `*` (any run) and `?` (one character). */
export type ModelMatcher = (model: string) => boolean;

const cache = new WeakMap<readonly string[], ModelMatcher>();

export function modelMatcher(patterns: readonly string[] | undefined): ModelMatcher {
  if (patterns === undefined) return () => true;
  const hit = cache.get(patterns);
  if (hit) return hit;
  const exact = new Set(patterns.filter((p) => !/[*?]/.test(p)));
  const globs = patterns.filter((p) => /[*?]/.test(p)).map(globToRegExp);
  const m: ModelMatcher = (model) => exact.has(model) || globs.some((g) => g.test(model));
  cache.set(patterns, m);
  return m;
}

export function globToRegExp(glob: string): RegExp {
  let src = "";
  for (const ch of glob) {
    if (ch === "*") src += ".*";
    else if (ch === "?") src += ".";
    else src += ch.replace(/[.+^${}()|[\]\\/-]/g, "\\$&");
  }
  return new RegExp(`^${src}$`, "s");
}

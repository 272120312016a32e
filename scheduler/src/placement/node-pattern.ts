/**
 * Node id globs from `selectors.nodes`: `*` matches any run of characters, everything else
 * itself. Compiled once per pattern list (lists belong to deployments and live as long as they do).
 */
const compiled = new WeakMap<readonly string[], RegExp>();

export function nodeIdMatches(patterns: readonly string[] | undefined, nodeId: string): boolean {
  if (patterns === undefined) return true;
  let re = compiled.get(patterns);
  if (re === undefined) {
    const alternatives = patterns.map((p) => p.split("*").map(escape).join(".*"));
    re = new RegExp(`^(?:${alternatives.join("|")})$`);
    compiled.set(patterns, re);
  }
  return re.test(nodeId);
}

function escape(s: string): string {
  return s.replace(/[.*+?^${}()|[\]\\]/g, "\\$&");
}

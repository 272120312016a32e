/** zod issues as one line an operator can act on: `gpus[0].uuid: Too small; nodeId: Required`. */
export function describeIssues(issues: readonly { path: readonly PropertyKey[]; message: string }[], max = 20): string {
  const parts = issues.slice(0, max).map((i) => `${pathString(i.path) || "(body)"}: ${i.message}`);
  if (issues.length > max) parts.push(`and ${issues.length - max} more`);
  return parts.join("; ");
}

function pathString(path: readonly PropertyKey[]): string {
  return path.map((p, i) => (typeof p === "number" ? `[${p}]` : (i === 0 ? "" : ".") + String(p))).join("");
}

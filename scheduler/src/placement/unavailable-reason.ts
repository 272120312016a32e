/**
 * kube-scheduler style: `eu-central-1: 0/3 nodes available: 2 too few free healthy GPUs (need 2), 1 wrong jurisdiction (need EU)`.
 * `reasons`: one per rejected node, or already counted (reason → nodes). Most frequent first,
 * then alphabetical, so the text is stable between passes.
 */
export function unavailableReason(region: string, nodeCount: number, reasons: readonly string[] | ReadonlyMap<string, number>): string {
  if (nodeCount === 0) return `${region}: 0/0 nodes available: no live nodes`;
  let counts: ReadonlyMap<string, number>;
  if (reasons instanceof Map) counts = reasons;
  else {
    const m = new Map<string, number>();
    for (const r of reasons as readonly string[]) m.set(r, (m.get(r) ?? 0) + 1);
    counts = m;
  }
  const parts = [...counts]
    .sort(([a, na], [b, nb]) => nb - na || (a < b ? -1 : a > b ? 1 : 0))
    .map(([r, n]) => `${n} ${r}`);
  return `${region}: 0/${nodeCount} nodes available: ${parts.join(", ")}`;
}

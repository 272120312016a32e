/**
 * kube-scheduler style: `eu-central-1: 0/3 nodes available: 2 too few free healthy GPUs (need 2), 1 wrong jurisdiction (need EU)`.
 * Most frequent reasons first, then alphabetical, so the text is stable between passes.
 */
export function unavailableReason(region: string, nodeCount: number, reasons: readonly string[]): string {
  if (nodeCount === 0) return `${region}: 0/0 nodes available: no live nodes`;
  const counts = new Map<string, number>();
  for (const r of reasons) counts.set(r, (counts.get(r) ?? 0) + 1);
  const parts = [...counts]
    .sort(([a, na], [b, nb]) => nb - na || (a < b ? -1 : a > b ? 1 : 0))
    .map(([r, n]) => `${n} ${r}`);
  return `${region}: 0/${nodeCount} nodes available: ${parts.join(", ")}`;
}

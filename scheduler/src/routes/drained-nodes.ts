import type { Cordon, DrainProgress } from "@enclave/contracts";

/**
 * Cordoned nodes the leader found empty in its last pass for this very cordon (a cordon
 * placed again since then starts over): their backends are about to stop.
 */
export function drainedOf(cordons: ReadonlyMap<string, Cordon>, progress: DrainProgress): Set<string> {
  const out = new Set<string>();
  for (const [nodeId, c] of cordons) {
    const p = progress[nodeId];
    if (p !== undefined && p.since === c.since && p.remaining === 0) out.add(nodeId);
  }
  return out;
}

/** `drainedOf` over what Redis holds now. */
export async function drainedNodes(cordons: { all(): Promise<Map<string, Cordon>> }, status: { drainProgress(): Promise<DrainProgress> }): Promise<Set<string>> {
  const [c, p] = await Promise.all([cordons.all(), status.drainProgress()]);
  return drainedOf(c, p);
}

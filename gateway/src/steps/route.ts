import type { RouteEntry, RouteTable } from "@enclave/contracts";

/**
 * The only place backends enter a request: entries serving `model` in an allowed
 * region. Everything downstream chooses among these and nothing else.
 */
export function routeCandidates(table: RouteTable, model: string, allowedRegions: readonly string[]): RouteEntry[] {
  return table.entries.filter((e) => e.model === model && allowedRegions.includes(e.region));
}

/**
 * Least in-flight at this gateway: score = −inflight(backend); ties broken at
 * random so equal backends share the load. Backends in `exclude` (already tried)
 * are skipped; undefined when none is left.
 */
export function pickBackend(
  candidates: readonly RouteEntry[],
  inflight: (backendId: string) => number,
  exclude: ReadonlySet<string>,
  random: () => number = Math.random,
): RouteEntry | undefined {
  let best: RouteEntry[] = [];
  let bestLoad = Infinity;
  for (const c of candidates) {
    if (exclude.has(c.backendId)) continue;
    const load = inflight(c.backendId);
    if (load < bestLoad) {
      bestLoad = load;
      best = [c];
    } else if (load === bestLoad) {
      best.push(c);
    }
  }
  if (best.length <= 1) return best[0];
  return best[Math.min(best.length - 1, Math.floor(random() * best.length))];
}

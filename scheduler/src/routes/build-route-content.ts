import type { Deployment, NodeReport, RouteEntry, RouteModel, RouteTable } from "@enclave/contracts";

/** A route table without its version stamp: what decides whether the version moves. */
export type RouteContent = Pick<RouteTable, "models" | "entries">;

/**
 * Ready backends of live, ready nodes (a node whose health failed serves nothing), with the
 * node's region and jurisdiction (where processing happens is where the hardware is), its state,
 * and every deployed model with the regions it is meant for. Metadata only. Sorted, so equal
 * inputs give equal content.
 *
 * `draining`: cordoned nodes whose replicas all have ready replacements elsewhere; their
 * backends are about to stop, so gateways should send them nothing new. A cordoned node whose
 * replicas still serve stays `ready` until then: draining never dips serving capacity.
 */
export function buildRouteContent(nodes: readonly NodeReport[], deployments: readonly Deployment[], draining: ReadonlySet<string> = new Set()): RouteContent {
  const entries: RouteEntry[] = [];
  for (const n of nodes) {
    if (n.health.state === "failed") continue;
    const nodeState = draining.has(n.nodeId) ? ("draining" as const) : ("ready" as const);
    for (const b of n.backends) {
      if (b.state !== "ready") continue;
      entries.push({
        backendId: b.id,
        nodeId: n.nodeId,
        model: b.model,
        engine: b.engine,
        region: n.region,
        jurisdiction: n.jurisdiction,
        url: b.baseUrl,
        load: b.load === null ? null : { running: b.load.running, waiting: b.load.waiting, kvCacheUsage: b.load.kvCacheUsage },
        nodeState,
      });
    }
  }
  entries.sort((a, b) => compare(a.backendId, b.backendId) || compare(a.nodeId, b.nodeId));

  const regionsByModel = new Map<string, Set<string>>();
  for (const d of deployments) {
    const regions = regionsByModel.get(d.model) ?? new Set<string>();
    for (const [region, count] of Object.entries(d.replicasPerRegion)) if (count > 0) regions.add(region);
    regionsByModel.set(d.model, regions);
  }
  const models: RouteModel[] = [...regionsByModel]
    .map(([name, regions]) => ({ name, regions: [...regions].sort(compare) }))
    .sort((a, b) => compare(a.name, b.name));
  return { models, entries };
}

function compare(a: string, b: string): number {
  return a < b ? -1 : a > b ? 1 : 0;
}

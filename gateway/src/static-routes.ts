import type { RouteEntry, RouteTable, StaticRoute } from "@enclave/contracts";

/**
 * The route table of a gateway without a scheduler: the configured backends, all
 * taken as ready (the breaker keeps failing ones out), no load reports.
 */
export function staticRouteTable(routes: readonly StaticRoute[], now = Date.now()): RouteTable {
  const entries: RouteEntry[] = routes.map((r, i) => ({
    backendId: r.id ?? `static/${i}`,
    nodeId: `static-${i}`,
    model: r.model,
    engine: r.engine,
    region: r.region,
    jurisdiction: r.jurisdiction,
    url: r.url,
    load: null,
  }));
  const ids = new Set(entries.map((e) => e.backendId));
  if (ids.size !== entries.length) throw new Error("staticRoutes: backend ids must be unique");
  const models = [...new Set(entries.map((e) => e.model))].map((name) => ({
    name,
    regions: [...new Set(entries.filter((e) => e.model === name).map((e) => e.region))],
  }));
  return { version: 1, generatedAt: now, models, entries };
}

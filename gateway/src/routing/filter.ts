import type { RouteEntry, RouteTable } from "@enclave/contracts";

/** What a request may use: the allowed set after identity, policy and the region header. */
export interface AllowedSet {
  model: string;
  regions: readonly string[];
  /** undefined: any jurisdiction (the regions still bind). */
  jurisdictions: readonly string[] | undefined;
}

/**
 * The only place backends enter a request: entries serving the model, in an
 * allowed region and jurisdiction, ready, on a node neither draining nor failed.
 * Everything downstream chooses among these and nothing else.
 */
export function compliantBackends(table: RouteTable, allowed: AllowedSet): RouteEntry[] {
  return table.entries.filter((e) => isCompliant(e, allowed) && isServing(e));
}

export function isCompliant(e: RouteEntry, allowed: AllowedSet): boolean {
  return (
    e.model === allowed.model &&
    allowed.regions.includes(e.region) &&
    (allowed.jurisdictions === undefined || allowed.jurisdictions.includes(e.jurisdiction))
  );
}

export function isServing(e: RouteEntry): boolean {
  return (e.state === undefined || e.state === "ready") && e.nodeState !== "draining" && e.nodeState !== "failed";
}

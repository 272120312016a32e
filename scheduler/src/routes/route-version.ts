import type { RouteTable } from "@enclave/contracts";
import type { RouteContent } from "./build-route-content.js";

/**
 * The next version after `previous`: at least one more, and at least the wall clock, so
 * versions keep growing across restarts and even after Redis lost the stored one.
 */
export function nextRouteVersion(previous: number, now: number): number {
  return Math.max(previous + 1, Math.floor(now));
}

/** Equal routing content, whatever the version and generation time. */
export function sameRouteContent(a: RouteContent, b: RouteContent): boolean {
  return canonicalJson({ models: a.models, entries: a.entries }) === canonicalJson({ models: b.models, entries: b.entries });
}

/** The table with the higher version; `a` on a tie. */
export function newerTable(a: RouteTable, b: RouteTable | null): RouteTable {
  return b !== null && b.version > a.version ? b : a;
}

/** JSON with object keys sorted, so key order never reads as a change. */
function canonicalJson(v: unknown): string {
  return JSON.stringify(v, (_k, val: unknown) =>
    val !== null && typeof val === "object" && !Array.isArray(val)
      ? Object.fromEntries(Object.entries(val).sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0)))
      : val,
  );
}

import { createHash } from "node:crypto";
import type { RouteEntry, RouteModel } from "@enclave/contracts";
import type { RouteContent } from "./build-route-content.js";

/**
 * The next version after `previous`: at least one more, and at least the wall clock, so
 * versions keep growing across restarts and even after Redis lost the stored one.
 */
export function nextRouteVersion(previous: number, now: number): number {
  return Math.max(previous + 1, Math.floor(now));
}

/**
 * Every field of a route table's content, in one fixed order. Comparing and serialising go
 * through these lists, so key order never reads as a change; a test keeps them in step with
 * the schemas.
 */
export const ENTRY_FIELDS = ["backendId", "nodeId", "model", "engine", "region", "jurisdiction", "url", "load", "nodeState", "state"] as const satisfies readonly (keyof RouteEntry)[];
export const LOAD_FIELDS = ["running", "waiting", "kvCacheUsage"] as const satisfies readonly (keyof NonNullable<RouteEntry["load"]>)[];
export const MODEL_FIELDS = ["name", "regions"] as const satisfies readonly (keyof RouteModel)[];

/** Equal routing content, whatever the version and generation time. `ignoreLoad`: engine load alone does not count. */
export function sameRouteContent(a: RouteContent, b: RouteContent, opts: { ignoreLoad?: boolean } = {}): boolean {
  if (a.entries.length !== b.entries.length || a.models.length !== b.models.length) return false;
  for (let i = 0; i < a.models.length; i++) {
    const x = a.models[i]!;
    const y = b.models[i]!;
    if (x.name !== y.name || x.regions.length !== y.regions.length || x.regions.some((r, j) => r !== y.regions[j])) return false;
  }
  for (let i = 0; i < a.entries.length; i++) {
    const x = a.entries[i]!;
    const y = b.entries[i]!;
    for (const f of ENTRY_FIELDS) {
      if (f === "load") {
        if (opts.ignoreLoad) continue;
        if (x.load === null || y.load === null ? x.load !== y.load : LOAD_FIELDS.some((l) => x.load![l] !== y.load![l])) return false;
      } else if (x[f] !== y[f]) return false;
    }
  }
  return true;
}

/** The content as JSON with every object's keys in the fixed order: equal content, equal bytes. */
export function routeContentJson(c: RouteContent): string {
  const pick = <T extends object>(o: T, fields: readonly (keyof T)[]) => {
    const out: Record<string, unknown> = {};
    for (const f of fields) if (o[f] !== undefined) out[f as string] = o[f];
    return out;
  };
  return JSON.stringify({
    models: c.models.map((m) => pick(m, MODEL_FIELDS)),
    entries: c.entries.map((e) => ({ ...pick(e, ENTRY_FIELDS), ...(e.load ? { load: pick(e.load, LOAD_FIELDS) } : {}) })),
  });
}

/** A short digest of the content, stored next to the version so scheduler replicas can compare tables without exchanging them. */
export function routeContentDigest(contentJson: string): string {
  return createHash("sha256").update(contentJson).digest("hex");
}

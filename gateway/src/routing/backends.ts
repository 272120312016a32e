import type { RouteEntry, RouteTable } from "@enclave/contracts";
import { decideEgress, type EgressPolicy, type EgressRefusal } from "../egress/policy.js";
import type { UpstreamTarget } from "../upstream/client.js";
import { isCompliant, isServing, type AllowedSet } from "./filter.js";

/** A route entry the gateway may dial, with where (decided once, when the table arrived). */
export type Backend = RouteEntry & { readonly target: UpstreamTarget };

export interface Refused {
  entry: RouteEntry;
  reason: EgressRefusal;
  detail: string;
}

/** A route table prepared for requests: dialable backends by model, refusals counted per model. */
export interface Routes {
  table: RouteTable;
  byModel: ReadonlyMap<string, readonly Backend[]>;
  refusedByModel: ReadonlyMap<string, number>;
  refused: readonly Refused[];
}

/**
 * Decides every entry's destination once per table (O(1) per request afterwards): its
 * target, or its refusal by the egress policy. A refused entry is as if it were not
 * in the table: never a candidate, never dialled.
 */
export function compileRoutes(table: RouteTable, egress: EgressPolicy | null): Routes {
  const byModel = new Map<string, Backend[]>();
  const refusedByModel = new Map<string, number>();
  const refused: Refused[] = [];
  for (const entry of table.entries) {
    const d = decideEgress(entry.url, egress);
    if (!d.ok) {
      refused.push({ entry, reason: d.reason, detail: d.detail });
      refusedByModel.set(entry.model, (refusedByModel.get(entry.model) ?? 0) + 1);
      continue;
    }
    const list = byModel.get(entry.model) ?? [];
    list.push({ ...entry, target: d.target });
    byModel.set(entry.model, list);
  }
  return { table, byModel, refusedByModel, refused };
}

/** The backends a request may use: the model's dialable entries inside its allowed set, serving. */
export function compliantCandidates(routes: Routes, allowed: AllowedSet): Backend[] {
  const list = routes.byModel.get(allowed.model);
  if (list === undefined) return [];
  const out: Backend[] = [];
  for (const b of list) if (isCompliant(b, allowed) && isServing(b)) out.push(b);
  return out;
}

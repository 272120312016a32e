import type { RouteTable, Tenant } from "@enclave/contracts";
import { modelMatcher } from "../policy/model-glob.js";

export interface ModelList {
  object: "list";
  data: { id: string; object: "model"; created: number; owned_by: string }[];
}

/** Models the tenant may use that are deployed in at least one of its regions. */
export function listModels(tenant: Tenant, table: RouteTable): ModelList {
  const allowed = modelMatcher(tenant.models);
  const names = new Set<string>();
  for (const m of table.models) {
    if (!allowed(m.name)) continue;
    if (m.regions.some((r) => tenant.regions.includes(r))) names.add(m.name);
  }
  return {
    object: "list",
    data: [...names].sort().map((id) => ({ id, object: "model", created: 0, owned_by: "enclave" })),
  };
}

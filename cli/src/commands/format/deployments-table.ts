import type { DeploymentStatusList } from "@enclave/contracts";
import { table } from "./table.js";

/** `enclave deploy list`: one line per deployment and region, with why it is not ready. */
export function deploymentsTable(list: DeploymentStatusList): string {
  if (list.deployments.length === 0) return "no deployments\n";
  const rows: string[][] = [];
  for (const d of list.deployments) {
    for (const r of d.regions) rows.push([d.name, d.model, String(d.generation ?? "-"), r.region, `${r.ready}/${r.desired}`, r.state, r.reason]);
  }
  const asOf = list.updatedAt > 0 ? `as of ${new Date(list.updatedAt).toISOString()}` : "no reconcile pass yet";
  return table(["NAME", "MODEL", "GEN", "REGION", "READY", "STATE", "REASON"], rows) + `(${asOf})\n`;
}

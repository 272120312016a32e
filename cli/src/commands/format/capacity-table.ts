import type { CapacityReport } from "@enclave/contracts";
import { table } from "./table.js";

/** `enclave capacity`: per region, GPUs and whether every replica survives losing the largest node. */
export function capacityTable(report: CapacityReport): string {
  if (report.regions.length === 0) return report.updatedAt > 0 ? "no regions\n" : "no reconcile pass yet\n";
  const rows = report.regions.map((r) => [
    r.region,
    `${r.schedulableNodes}/${r.nodes}`,
    String(r.gpus.total),
    String(r.gpus.healthy),
    String(r.gpus.free),
    r.nPlusOne.ok ? "yes" : "NO",
    r.nPlusOne.largestNode ?? "-",
    r.nPlusOne.reason,
  ]);
  return table(["REGION", "NODES", "GPUS", "HEALTHY", "FREE", "N+1", "LARGEST NODE", "WHY NOT"], rows) + `(as of ${new Date(report.updatedAt).toISOString()})\n`;
}

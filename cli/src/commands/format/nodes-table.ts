import type { NodeView } from "@enclave/contracts";
import { gib, some, table } from "./table.js";

/**
 * `enclave nodes`: one line per node (region, state, GPU health, free VRAM, replicas); with
 * `gpus`, one more line per GPU.
 */
export function nodesTable(nodes: readonly NodeView[], opts: { gpus?: boolean } = {}): string {
  if (nodes.length === 0) return "no live nodes\n";
  const rows: string[][] = [];
  for (const n of nodes) {
    const byHealth = new Map<string, number>();
    let free = 0;
    for (const g of n.gpus) {
      byHealth.set(g.health.state, (byHealth.get(g.health.state) ?? 0) + 1);
      if (g.health.state === "healthy") free += Math.max(0, g.memoryTotalMiB - g.memoryUsedMiB);
    }
    const health = ["healthy", "degraded", "failed", "unknown"].filter((s) => byHealth.has(s)).map((s) => `${byHealth.get(s)} ${s}`);
    const state = n.cordon ? `${n.state} (by ${n.cordon.by}${n.cordon.reason ? `: ${n.cordon.reason}` : ""})` : n.state;
    rows.push([n.nodeId, n.region, n.jurisdiction, state, n.gpus.length === 0 ? "none reported" : `${n.gpus.length}: ${health.join(", ")}`, gib(free), n.replicas.length === 0 ? "-" : `${n.replicas.length}: ${some(n.replicas, 3)}`]);
    if (opts.gpus) {
      for (const g of n.gpus) {
        const why = g.health.reasons.length > 0 ? ` (${g.health.reasons.join("; ")})` : "";
        rows.push([`  gpu ${g.index}`, g.name, "", `${g.health.state}${why}`, g.uuid, gib(Math.max(0, g.memoryTotalMiB - g.memoryUsedMiB)), ""]);
      }
    }
  }
  return table(["NODE", "REGION", "JURIS", "STATE", "GPUS", "FREE VRAM", "REPLICAS"], rows);
}

import type { CapacityReport, Deployment, NodeReport, RegionCapacity, ReplicaAssignment } from "@enclave/contracts";
import { placeReplica } from "../placement/place-replica.js";
import type { PlacementStrategy } from "../placement/types.js";
import { desiredReplicas, type DesiredReplica } from "../reconcile/desired-replicas.js";

export interface CapacityInput {
  deployments: readonly Deployment[];
  /** Live nodes. */
  nodes: readonly NodeReport[];
  /** Placements after the pass, by replica key. */
  assignments: ReadonlyMap<string, ReplicaAssignment>;
  cordoned: ReadonlySet<string>;
  strategy: PlacementStrategy;
  now: number;
}

const MAX_REASONS = 3;

/**
 * Free GPUs per region and the N+1 check: would every replica of the region still find a place
 * if its largest node (most GPUs; then most GPUs in use; then id) were lost now? Simulated with
 * the same placement plugins the reconcile loop uses, against what is left.
 */
export function capacityReport(input: CapacityInput): CapacityReport {
  const replicasByRegion = new Map<string, DesiredReplica[]>();
  for (const d of desiredReplicas(input.deployments)) {
    const list = replicasByRegion.get(d.region) ?? [];
    list.push(d);
    replicasByRegion.set(d.region, list);
  }
  const nodesByRegion = new Map<string, NodeReport[]>();
  for (const n of input.nodes) {
    const list = nodesByRegion.get(n.region) ?? [];
    list.push(n);
    nodesByRegion.set(n.region, list);
  }
  const held = new Map<string, Set<string>>(); // node → GPU uuids held by placements or running backends
  const hold = (nodeId: string, gpus: readonly string[]) => {
    let s = held.get(nodeId);
    if (s === undefined) held.set(nodeId, (s = new Set()));
    for (const g of gpus) s.add(g);
  };
  for (const a of input.assignments.values()) {
    if (a.nodeId !== null) hold(a.nodeId, a.gpus);
    if (a.next) hold(a.next.nodeId, a.next.gpus);
  }
  for (const n of input.nodes) for (const b of n.backends) hold(n.nodeId, b.gpus);

  const regions = [...new Set([...nodesByRegion.keys(), ...[...replicasByRegion.keys()]])].sort();
  return {
    updatedAt: input.now,
    regions: regions.map((region) => regionCapacity(region, nodesByRegion.get(region) ?? [], replicasByRegion.get(region) ?? [], held, input)),
  };
}

function regionCapacity(region: string, nodes: readonly NodeReport[], replicas: readonly DesiredReplica[], held: ReadonlyMap<string, ReadonlySet<string>>, input: CapacityInput): RegionCapacity {
  const schedulable = nodes.filter((n) => !input.cordoned.has(n.nodeId) && n.health.state !== "failed" && n.health.state !== "unknown");
  let total = 0;
  let healthy = 0;
  let free = 0;
  for (const n of nodes) total += n.gpus.length;
  for (const n of schedulable) {
    for (const g of n.gpus) {
      if (g.health.state !== "healthy") continue;
      healthy++;
      if (!held.get(n.nodeId)?.has(g.uuid)) free++;
    }
  }
  return { region, nodes: nodes.length, schedulableNodes: schedulable.length, gpus: { total, healthy, free }, nPlusOne: nPlusOne(region, nodes, replicas, held, input) };
}

function nPlusOne(region: string, nodes: readonly NodeReport[], replicas: readonly DesiredReplica[], held: ReadonlyMap<string, ReadonlySet<string>>, input: CapacityInput): RegionCapacity["nPlusOne"] {
  const used = (n: NodeReport) => held.get(n.nodeId)?.size ?? 0;
  const largest = [...nodes].sort((a, b) => b.gpus.length - a.gpus.length || used(b) - used(a) || (a.nodeId < b.nodeId ? -1 : 1))[0];
  const unplaced = replicas.filter((d) => (input.assignments.get(d.key)?.nodeId ?? null) === null);
  if (unplaced.length > 0) {
    return { ok: false, largestNode: largest?.nodeId ?? null, reason: `${unplaced.length} replicas already unplaced (${unplaced.slice(0, MAX_REASONS).map((d) => d.key).join(", ")})` };
  }
  if (largest === undefined) return { ok: true, largestNode: null, reason: "" };

  const lost = largest.nodeId;
  const rest = nodes.filter((n) => n.nodeId !== lost);
  const taken = new Map<string, Set<string>>();
  for (const n of rest) {
    const gpus = held.get(n.nodeId);
    if (gpus !== undefined) taken.set(n.nodeId, new Set(gpus));
  }
  const counts = new Map<string, Map<string, number>>();
  const displaced: DesiredReplica[] = [];
  for (const d of replicas) {
    const a = input.assignments.get(d.key);
    if (a?.nodeId == null) continue;
    // A replica counts as lost with the node if its serving placement is there (a replacement elsewhere would take over).
    if (a.nodeId === lost) displaced.push(d);
    else bump(counts, d.deployment.name, a.nodeId);
  }
  const failed = new Map<string, string[]>(); // reason → replica keys
  for (const d of displaced) {
    const r = placeReplica(
      { deployment: d.deployment, region, nodes: rest, taken, replicasByNode: counts.get(d.deployment.name) ?? new Map(), cordoned: input.cordoned },
      { strategy: input.strategy },
    );
    if (!r.ok) {
      failed.set(r.reason, [...(failed.get(r.reason) ?? []), d.key]);
      continue;
    }
    let s = taken.get(r.nodeId);
    if (s === undefined) taken.set(r.nodeId, (s = new Set()));
    for (const g of r.gpus) s.add(g);
    bump(counts, d.deployment.name, r.nodeId);
  }
  if (failed.size === 0) return { ok: true, largestNode: lost, reason: "" };
  const count = [...failed.values()].reduce((n, keys) => n + keys.length, 0);
  const why = [...failed]
    .slice(0, MAX_REASONS)
    .map(([reason, keys]) => `${keys.slice(0, MAX_REASONS).join(", ")}${keys.length > MAX_REASONS ? `, +${keys.length - MAX_REASONS}` : ""}: ${reason}`);
  const more = failed.size > MAX_REASONS ? `; and ${failed.size - MAX_REASONS} other reasons` : "";
  return { ok: false, largestNode: lost, reason: `losing ${lost}, ${count} of ${displaced.length} replicas would not fit: ${why.join("; ")}${more}` };
}

function bump(counts: Map<string, Map<string, number>>, dep: string, nodeId: string): void {
  const m = counts.get(dep) ?? new Map<string, number>();
  m.set(nodeId, (m.get(nodeId) ?? 0) + 1);
  counts.set(dep, m);
}

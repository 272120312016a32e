import {
  backendId,
  replicaKey,
  type Backend,
  type Deployment,
  type DeploymentStatus,
  type NodeReport,
  type ReplicaAssignment,
  type ReplicaRef,
  type StartJob,
  type StopJob,
} from "@enclave/contracts";
import { placeReplica } from "../placement/place-replica.js";
import { invalidBecause } from "./assignment-validity.js";
import { deploymentStatus } from "./deployment-status.js";
import { desiredReplicas, type DesiredReplica } from "./desired-replicas.js";

export interface ReconcileInput {
  deployments: readonly Deployment[];
  /** Live nodes only. */
  nodes: readonly NodeReport[];
  /** Stored placements by replica key. */
  assignments: ReadonlyMap<string, ReplicaAssignment>;
}

export interface NodeJobFor<J> {
  nodeId: string;
  job: J;
}

export interface ReconcilePlan {
  /** Assignments to store: new placements, moves, adoptions, and replicas that lost their node. */
  changed: Map<string, ReplicaAssignment>;
  /** Replica keys no longer desired. */
  removed: string[];
  /** Jobs for new placements. */
  starts: NodeJobFor<StartJob>[];
  /** Placed replicas their node does not report yet: the same (idempotent) job again, in case it was lost. */
  startRepairs: NodeJobFor<StartJob>[];
  stops: NodeJobFor<StopJob>[];
  /** Placements that fell this pass, and why. */
  moved: { key: string; fromNode: string; reason: string }[];
  /** Desired replicas with no node, and why. */
  unplaced: { key: string; deployment: string; region: string; reason: string }[];
  status: DeploymentStatus[];
}

/**
 * One reconcile decision, without I/O: compares what the configuration wants with what is
 * placed and what live nodes report, and says what to store and which jobs to send.
 * Replicas are only ever placed in their own region; promised and occupied GPUs are never
 * handed out twice.
 */
export function planReconcile(input: ReconcileInput): ReconcilePlan {
  const nodes = new Map(input.nodes.map((n) => [n.nodeId, n]));
  const desired = desiredReplicas(input.deployments);
  const desiredKeys = new Set(desired.map((d) => d.key));
  const plan: ReconcilePlan = { changed: new Map(), removed: [], starts: [], startRepairs: [], stops: [], moved: [], unplaced: [], status: [] };

  for (const key of input.assignments.keys()) if (!desiredKeys.has(key)) plan.removed.push(key);

  // Final placements after this pass, by replica key (placed or not).
  const final = new Map<string, ReplicaAssignment>();
  const promised = new GpuSets();
  const placementCounts = new Map<string, Map<string, number>>(); // deployment → node → replicas
  const count = (dep: string, nodeId: string) => {
    const m = placementCounts.get(dep) ?? new Map<string, number>();
    m.set(nodeId, (m.get(nodeId) ?? 0) + 1);
    placementCounts.set(dep, m);
  };

  // 1. Keep placements that still stand.
  const toPlace: { d: DesiredReplica; previous: ReplicaAssignment | undefined }[] = [];
  const kept: DesiredReplica[] = [];
  for (const d of desired) {
    const a = input.assignments.get(d.key);
    if (a === undefined || a.nodeId === null) {
      toPlace.push({ d, previous: a });
      continue;
    }
    const why = invalidBecause(d.deployment, d.region, d.replica, { ...a, nodeId: a.nodeId }, nodes.get(a.nodeId));
    if (why !== undefined) {
      plan.moved.push({ key: d.key, fromNode: a.nodeId, reason: why });
      toPlace.push({ d, previous: a });
      continue;
    }
    final.set(d.key, a);
    promised.add(a.nodeId, a.gpus);
    count(d.deployment.name, a.nodeId);
    kept.push(d);
  }

  // 2. Adopt a running backend for a replica without a node: Redis lost the record, or the
  //    replica was unplaced and its old node came back (a partition) with the backend still up.
  for (const entry of toPlace) {
    if (entry.previous?.nodeId != null) continue;
    const found = adoptable(entry.d, entry.previous?.generation ?? 0, input.nodes, promised);
    if (found === undefined) continue;
    const a: ReplicaAssignment = { nodeId: found.node.nodeId, gpus: [...found.backend.gpus], generation: found.backend.replica.generation };
    final.set(entry.d.key, a);
    plan.changed.set(entry.d.key, a);
    promised.add(found.node.nodeId, a.gpus);
    count(entry.d.deployment.name, found.node.nodeId);
  }

  // 3. Place the rest. GPUs held by any reported backend count as taken until it is gone.
  const taken = promised.clone();
  for (const n of input.nodes) for (const b of n.backends) taken.add(n.nodeId, b.gpus);
  const reportedGenerations = new Map<string, number>();
  for (const n of input.nodes) {
    for (const b of n.backends) {
      const k = replicaKey(b.replica);
      reportedGenerations.set(k, Math.max(reportedGenerations.get(k) ?? -1, b.replica.generation));
    }
  }
  const unplacedReasons = new Map<string, string>();
  for (const { d, previous } of toPlace) {
    if (final.has(d.key)) continue;
    const r = placeReplica(d.deployment, d.region, input.nodes, taken.view(), placementCounts.get(d.deployment.name) ?? new Map());
    if (!r.ok) {
      unplacedReasons.set(d.key, r.reason);
      plan.unplaced.push({ key: d.key, deployment: d.deployment.name, region: d.region, reason: r.reason });
      if (previous !== undefined) {
        const a: ReplicaAssignment = { nodeId: null, gpus: [], generation: previous.generation };
        final.set(d.key, a);
        if (previous.nodeId !== null) plan.changed.set(d.key, a);
      }
      continue;
    }
    // A new generation for every new placement, above any stored or still reported one, so job and backend ids never repeat.
    const seen = Math.max(previous?.generation ?? -1, reportedGenerations.get(d.key) ?? -1);
    const a: ReplicaAssignment = { nodeId: r.nodeId, gpus: r.gpus, generation: seen + 1 };
    final.set(d.key, a);
    plan.changed.set(d.key, a);
    taken.add(r.nodeId, r.gpus);
    count(d.deployment.name, r.nodeId);
    plan.starts.push({ nodeId: r.nodeId, job: startJob(d, a) });
  }

  // 4. Placed replicas whose node does not report them yet: send the start job again.
  for (const d of kept) {
    const a = final.get(d.key);
    if (a?.nodeId == null) continue;
    const id = backendId(a.nodeId, ref(d, a.generation));
    if (!nodes.get(a.nodeId)?.backends.some((b) => b.id === id)) plan.startRepairs.push({ nodeId: a.nodeId, job: startJob(d, a) });
  }

  // 5. Stop every reported backend that no current placement explains.
  const explained = new Set<string>();
  for (const d of desired) {
    const a = final.get(d.key);
    if (a?.nodeId != null) explained.add(backendId(a.nodeId, ref(d, a.generation)));
  }
  const byName = new Map(input.deployments.map((d) => [d.name, d]));
  for (const n of input.nodes) {
    for (const b of n.backends) {
      if (explained.has(b.id) && b.nodeId === n.nodeId) continue;
      plan.stops.push({ nodeId: n.nodeId, job: { kind: "stop", backendId: b.id, reason: stopReason(b, byName, final) } });
    }
  }

  plan.status = deploymentStatus(input.deployments, nodes, final, unplacedReasons);
  return plan;
}

function ref(d: DesiredReplica, generation: number): ReplicaRef {
  return { deployment: d.deployment.name, region: d.region, replica: d.replica, generation };
}

function startJob(d: DesiredReplica, a: ReplicaAssignment): StartJob {
  const dep = d.deployment;
  return {
    kind: "start",
    replica: ref(d, a.generation),
    model: dep.model,
    engine: dep.engine,
    ...(dep.image !== undefined ? { image: dep.image } : {}),
    args: [...dep.args],
    gpus: [...a.gpus],
  };
}

/** A healthy backend already serving this replica in its region, at least `minGeneration`, newest first. */
function adoptable(d: DesiredReplica, minGeneration: number, nodes: readonly NodeReport[], promised: GpuSets): { node: NodeReport; backend: Backend } | undefined {
  let best: { node: NodeReport; backend: Backend } | undefined;
  const dep = d.deployment;
  for (const node of nodes) {
    if (node.region !== d.region || node.health.state === "failed") continue;
    if (dep.jurisdiction !== undefined && node.jurisdiction !== dep.jurisdiction) continue;
    for (const b of node.backends) {
      const r = b.replica;
      if (r.deployment !== dep.name || r.region !== d.region || r.replica !== d.replica || r.generation < minGeneration) continue;
      if (b.state === "failed" || b.state === "stopping" || b.model !== dep.model || b.engine !== dep.engine) continue;
      if (b.id !== backendId(node.nodeId, r) || b.gpus.length !== dep.gpusPerReplica || b.gpus.some((g) => promised.has(node.nodeId, g))) continue;
      if (node.gpus.some((g) => b.gpus.includes(g.uuid) && g.health.state === "failed")) continue;
      if (best === undefined || r.generation > best.backend.replica.generation) best = { node, backend: b };
    }
  }
  return best;
}

function stopReason(b: Backend, deployments: ReadonlyMap<string, Deployment>, final: ReadonlyMap<string, ReplicaAssignment>): string {
  const r = b.replica;
  const dep = deployments.get(r.deployment);
  if (dep === undefined) return `deployment ${r.deployment} is not configured`;
  const want = dep.replicasPerRegion[r.region] ?? 0;
  if (r.replica >= want) return `replica ${r.replica} not desired (${r.region} wants ${want})`;
  const a = final.get(replicaKey(r));
  if (a?.nodeId != null) return `replaced by generation ${a.generation} on ${a.nodeId}`;
  return "no current placement";
}

/** GPU uuids per node. */
class GpuSets {
  private readonly m = new Map<string, Set<string>>();
  add(nodeId: string, gpus: readonly string[]): void {
    const s = this.m.get(nodeId) ?? new Set<string>();
    for (const g of gpus) s.add(g);
    this.m.set(nodeId, s);
  }
  has(nodeId: string, gpu: string): boolean {
    return this.m.get(nodeId)?.has(gpu) ?? false;
  }
  clone(): GpuSets {
    const c = new GpuSets();
    for (const [n, s] of this.m) c.add(n, [...s]);
    return c;
  }
  view(): ReadonlyMap<string, ReadonlySet<string>> {
    return this.m;
  }
}

import {
  backendId,
  replicaKey,
  type Backend,
  type Deployment,
  type DeploymentStatus,
  type NodeReport,
  type Placement,
  type ReplicaAssignment,
  type ReplicaRef,
  type StartJob,
  type StopJob,
} from "@enclave/contracts";
import { placeReplica } from "../placement/place-replica.js";
import type { PlacementStrategy } from "../placement/types.js";
import { backendOf, fallenBecause, moveBecause, type FleetView } from "./assignment-validity.js";
import { deploymentStatus, type ReplicaNote } from "./deployment-status.js";
import { desiredReplicas, type DesiredReplica } from "./desired-replicas.js";
import { engineTemplate } from "./engine-template.js";
import { failureBackoffMs } from "./failure-backoff.js";
import { placementBackendId } from "./placement-backend-id.js";

export interface ReconcileOptions {
  strategy: PlacementStrategy;
  /** A placed replica its node has not reported this long is placed again. */
  startTimeoutMs: number;
  backoff: { initialMs: number; maxMs: number };
}

export const DEFAULT_RECONCILE_OPTIONS: ReconcileOptions = {
  strategy: "binpack",
  startTimeoutMs: 180_000,
  backoff: { initialMs: 10_000, maxMs: 300_000 },
};

/** Replicas of one deployment in one region moving at once (drain, rolling update): each holds a spare set of GPUs. */
const MAX_SURGE_PER_DEPLOYMENT_REGION = 1;

export interface ReconcileInput {
  deployments: readonly Deployment[];
  /** Spec generation per deployment name, carried into the status. */
  generations?: ReadonlyMap<string, number>;
  /** Live nodes only. */
  nodes: readonly NodeReport[];
  /** Stored placements by replica key. */
  assignments: ReadonlyMap<string, ReplicaAssignment>;
  /** Nodes an operator drained. */
  cordoned?: ReadonlySet<string>;
  /** ms; decides start timeouts and failure backoff. */
  now?: number;
  options?: Partial<ReconcileOptions>;
}

export interface NodeJobFor<J> {
  nodeId: string;
  job: J;
}

export interface ReconcilePlan {
  /** Assignments to store: new placements, moves, adoptions, replacements, and replicas that lost their node. */
  changed: Map<string, ReplicaAssignment>;
  /** Replica keys no longer desired. */
  removed: string[];
  /** Jobs for new placements and replacements. */
  starts: NodeJobFor<StartJob>[];
  /** Placed replicas their node does not report yet: the same (idempotent) job again, in case it was lost. */
  startRepairs: NodeJobFor<StartJob>[];
  stops: NodeJobFor<StopJob>[];
  /** Placements that fell this pass (could not serve any more), and why. */
  moved: { key: string; fromNode: string; reason: string }[];
  /** Replicas moving without a capacity dip: `toNode` null while no replacement could be placed (`blocked` says why). */
  surges: { key: string; fromNode: string; toNode: string | null; reason: string; blocked?: string }[];
  /** Replacements that became ready this pass and took over (the old backend is stopped). */
  promoted: { key: string; fromNode: string; toNode: string; reason: string }[];
  /** Desired replicas with no node, and why. */
  unplaced: { key: string; deployment: string; region: string; reason: string }[];
  status: DeploymentStatus[];
  /** Every desired replica's placement after this pass. */
  final: Map<string, ReplicaAssignment>;
  /** Current placements left on each cordoned live node (0: drained). */
  drainRemaining: Map<string, number>;
}

/**
 * One reconcile decision, without I/O: compares the desired replicas with what is placed and
 * what live nodes report, and says what to store and which jobs to send.
 *
 * - Replicas are only ever placed in their own region; promised and occupied GPUs are never
 *   handed out twice.
 * - A placement that cannot serve (node gone or failed, GPU failed, backend failed, residency
 *   breached) is replaced at once; one that still serves but should move (node cordoned, health
 *   unknown, engine settings or selectors changed) gets a replacement first and is stopped only
 *   once that replacement is ready.
 * - Replicas that keep failing back off before their next placement.
 */
export function planReconcile(input: ReconcileInput): ReconcilePlan {
  const now = input.now ?? Date.now();
  const opts: ReconcileOptions = { ...DEFAULT_RECONCILE_OPTIONS, ...input.options };
  const cordoned = input.cordoned ?? new Set<string>();
  const nodes = new Map(input.nodes.map((n) => [n.nodeId, n]));
  const backends = new Map<string, Backend>();
  const byReplica = new Map<string, Backend[]>();
  const byRegion = new Map<string, NodeReport[]>();
  for (const n of input.nodes) {
    for (const b of n.backends) {
      backends.set(b.id, b);
      const k = replicaKey(b.replica);
      const list = byReplica.get(k);
      if (list === undefined) byReplica.set(k, [b]);
      else list.push(b);
    }
    const list = byRegion.get(n.region) ?? [];
    list.push(n);
    byRegion.set(n.region, list);
  }
  const view: FleetView = { nodes, backends, cordoned, now, startTimeoutMs: opts.startTimeoutMs };
  const desired = desiredReplicas(input.deployments);
  const desiredKeys = new Set(desired.map((d) => d.key));
  const plan: ReconcilePlan = {
    changed: new Map(),
    removed: [],
    starts: [],
    startRepairs: [],
    stops: [],
    moved: [],
    surges: [],
    promoted: [],
    unplaced: [],
    status: [],
    final: new Map(),
    drainRemaining: new Map(),
  };
  for (const key of input.assignments.keys()) if (!desiredKeys.has(key)) plan.removed.push(key);

  const final = plan.final;
  const notes = new Map<string, ReplicaNote>();
  const promised = new GpuSets();
  const placementCounts = new Map<string, Map<string, number>>(); // deployment → node → replicas
  const count = (dep: string, nodeId: string) => {
    const m = placementCounts.get(dep) ?? new Map<string, number>();
    m.set(nodeId, (m.get(nodeId) ?? 0) + 1);
    placementCounts.set(dep, m);
  };
  const surging = new Map<string, number>(); // deployment\nregion → replacements in flight
  const surgeKey = (d: DesiredReplica) => `${d.deployment.name}\n${d.region}`;
  const keep = (d: DesiredReplica, a: ReplicaAssignment & { nodeId: string }, dirty: boolean) => {
    final.set(d.key, a);
    if (dirty) plan.changed.set(d.key, a);
    promised.add(a.nodeId, a.gpus);
    count(d.deployment.name, a.nodeId);
    if (a.next) {
      promised.add(a.next.nodeId, a.next.gpus);
      count(d.deployment.name, a.next.nodeId);
      surging.set(surgeKey(d), (surging.get(surgeKey(d)) ?? 0) + 1);
    }
  };

  // 1. Keep placements that still serve; promote replacements that are ready; note what should move.
  const toPlace: { d: DesiredReplica; previous: ReplicaAssignment | undefined; failure?: string }[] = [];
  const toMove: { d: DesiredReplica; a: ReplicaAssignment & { nodeId: string }; reason: string }[] = [];
  for (const d of desired) {
    const template = engineTemplate(d.deployment);
    const a = input.assignments.get(d.key);
    if (a === undefined || a.nodeId === null) {
      toPlace.push({ d, previous: a });
      continue;
    }
    const current = a as ReplicaAssignment & { nodeId: string };
    const next = a.next;
    const nextFall = next ? fallenBecause(view, d, next, template) : undefined;
    const fall = fallenBecause(view, d, current, template);
    if (fall !== undefined) {
      plan.moved.push({ key: d.key, fromNode: a.nodeId, reason: fall.reason });
      if (next !== undefined && nextFall === undefined) {
        // The replacement already on its way takes over at once.
        keep(d, { ...promote(next), ...failureFields(a) }, true);
        continue;
      }
      toPlace.push({ d, previous: a, ...(fall.failure ? { failure: fall.reason } : {}) });
      continue;
    }
    // (No template recorded: placed before templates were; it counts as running today's settings.)
    let updated: ReplicaAssignment & { nodeId: string } = current;
    let dirty = false;
    if (a.failures !== undefined && backendOf(view, d, current)?.state === "ready") {
      updated = withoutFailures(updated);
      dirty = true;
    }
    const why = moveBecause(view, d, updated, template);
    if (next !== undefined) {
      const nextWhy = nextFall?.reason ?? moveBecause(view, d, next, template);
      if (why === undefined || nextWhy !== undefined) {
        // Not needed any more (uncordoned, health back), or the replacement itself cannot stand: its backend is stopped below.
        updated = { ...updated, next: undefined };
        delete updated.next;
        dirty = true;
      } else if (backendOf(view, d, next)?.state === "ready") {
        plan.promoted.push({ key: d.key, fromNode: a.nodeId, toNode: next.nodeId, reason: why });
        keep(d, promote(next), true);
        continue;
      }
    }
    keep(d, updated, dirty);
    if (why !== undefined) toMove.push({ d, a: updated, reason: why });
  }

  // 2. Adopt a running backend for a replica without a node: Redis lost the record, or the
  //    replica was unplaced and its old node came back (a partition) with the backend still up.
  for (const entry of toPlace) {
    if (entry.previous?.nodeId != null) continue;
    const found = adoptable(entry.d, minGeneration(entry.previous), view, byReplica, promised);
    if (found === undefined) continue;
    const a: ReplicaAssignment & { nodeId: string } = {
      nodeId: found.node.nodeId,
      gpus: [...found.backend.gpus],
      generation: found.backend.replica.generation,
      template: engineTemplate(entry.d.deployment),
      ...failureFields(entry.previous),
    };
    keep(entry.d, a, true);
  }

  // 3. Place the rest. GPUs held by any reported backend count as taken until it is gone.
  // Built only when something is to be placed: at steady state a pass skips this work.
  const busy = toPlace.length > 0 || toMove.length > 0;
  const taken = busy ? promised.clone() : promised;
  const reportedGenerations = new Map<string, number>();
  if (busy) {
    for (const n of input.nodes) for (const b of n.backends) taken.add(n.nodeId, b.gpus);
    for (const b of backends.values()) {
      const k = replicaKey(b.replica);
      reportedGenerations.set(k, Math.max(reportedGenerations.get(k) ?? -1, b.replica.generation));
    }
  }
  const place = (d: DesiredReplica) => {
    const regional = byRegion.get(d.region) ?? [];
    return placeReplica(
      {
        deployment: d.deployment,
        region: d.region,
        nodes: regional,
        elsewhere: input.nodes.length - regional.length,
        taken: taken.view(),
        replicasByNode: placementCounts.get(d.deployment.name) ?? new Map(),
        cordoned,
      },
      { strategy: opts.strategy },
    );
  };
  for (const { d, previous, failure } of toPlace) {
    if (final.has(d.key)) continue;
    const failures = (previous?.failures ?? 0) + (failure !== undefined ? 1 : 0);
    const lastFailure = failure ?? previous?.lastFailure;
    const retryAt = failure !== undefined ? now + failureBackoffMs(failures, opts.backoff) : previous?.retryAt;
    const generation = Math.max(minGeneration(previous), reportedGenerations.get(d.key) ?? -1);
    const failed = failures > 0 ? { failures, ...(retryAt !== undefined ? { retryAt } : {}), ...(lastFailure !== undefined ? { lastFailure } : {}) } : {};
    const unplacedRecord = (reason: string) => {
      notes.set(d.key, { kind: "unplaced", reason });
      plan.unplaced.push({ key: d.key, deployment: d.deployment.name, region: d.region, reason });
      if (previous === undefined && failures === 0) return;
      const a: ReplicaAssignment = { nodeId: null, gpus: [], generation: Math.max(generation, previous?.generation ?? 0), ...failed };
      final.set(d.key, a);
      if (previous === undefined || !sameAssignment(previous, a)) plan.changed.set(d.key, a);
    };
    if (retryAt !== undefined && retryAt > now) {
      const wait = Math.ceil((retryAt - now) / 1000);
      unplacedRecord(`backing off after ${failures} failed placements in a row (last: ${lastFailure ?? "unknown"}); next try in ${wait} s`);
      continue;
    }
    const r = place(d);
    if (!r.ok) {
      unplacedRecord(r.reason);
      continue;
    }
    // A new generation for every new placement, above any stored or still reported one, so job and backend ids never repeat.
    const a: ReplicaAssignment & { nodeId: string } = {
      nodeId: r.nodeId,
      gpus: r.gpus,
      generation: generation + 1,
      template: engineTemplate(d.deployment),
      placedAt: now,
      ...failed,
    };
    delete a.retryAt;
    keep(d, a, true);
    taken.add(r.nodeId, r.gpus);
    plan.starts.push({ nodeId: r.nodeId, job: startJob(d, a) });
  }

  // 4. Replicas that should move: a replacement first (one per deployment and region at a time).
  for (const { d, a, reason } of toMove) {
    if (a.next !== undefined) {
      notes.set(d.key, { kind: "moving", text: `moving off ${a.nodeId} (${reason}): replacement on ${a.next.nodeId} ${backendOf(view, d, a.next)?.state ?? "start queued"}` });
      plan.surges.push({ key: d.key, fromNode: a.nodeId, toNode: a.next.nodeId, reason });
      continue;
    }
    if ((surging.get(surgeKey(d)) ?? 0) >= MAX_SURGE_PER_DEPLOYMENT_REGION) {
      const blocked = "waiting for another replica of this deployment to finish moving";
      notes.set(d.key, { kind: "moving", text: `to move off ${a.nodeId} (${reason}): ${blocked}` });
      plan.surges.push({ key: d.key, fromNode: a.nodeId, toNode: null, reason, blocked });
      continue;
    }
    const r = place(d);
    if (!r.ok) {
      notes.set(d.key, { kind: "moving", text: `cannot move off ${a.nodeId} (${reason}), it keeps serving: ${r.reason}` });
      plan.surges.push({ key: d.key, fromNode: a.nodeId, toNode: null, reason, blocked: r.reason });
      continue;
    }
    const generation = Math.max(a.generation, reportedGenerations.get(d.key) ?? -1) + 1;
    const next = { nodeId: r.nodeId, gpus: r.gpus, generation, template: engineTemplate(d.deployment), placedAt: now };
    const updated = { ...a, next };
    final.set(d.key, updated);
    plan.changed.set(d.key, updated);
    taken.add(r.nodeId, r.gpus);
    count(d.deployment.name, r.nodeId);
    surging.set(surgeKey(d), (surging.get(surgeKey(d)) ?? 0) + 1);
    notes.set(d.key, { kind: "moving", text: `moving off ${a.nodeId} (${reason}): replacement on ${r.nodeId} start queued` });
    plan.surges.push({ key: d.key, fromNode: a.nodeId, toNode: r.nodeId, reason });
    plan.starts.push({ nodeId: r.nodeId, job: startJob(d, { ...next }) });
  }

  // 5. Placements their node does not report yet: send the same start job again (a no-op unless it was lost).
  const startedNow = new Set(plan.starts.map((s) => `${s.nodeId}/${replicaKey(s.job.replica)}/g${s.job.replica.generation}`));
  for (const d of desired) {
    const a = final.get(d.key);
    if (a?.nodeId == null) continue;
    const template = engineTemplate(d.deployment);
    const repair = (p: Placement & { template?: string | undefined }) => {
      // A job re-sent carries today's settings, so only a placement made with them may be repaired.
      if ((p.template ?? template) !== template) return;
      const id = placementBackendId(d, p);
      if (backends.has(id) || startedNow.has(id)) return;
      plan.startRepairs.push({ nodeId: p.nodeId, job: startJob(d, p) });
    };
    repair(a as ReplicaAssignment & { nodeId: string });
    if (a.next) repair(a.next);
  }

  // 6. Stop every reported backend that no current placement or replacement explains.
  const explained = new Set<string>();
  for (const d of desired) {
    const a = final.get(d.key);
    if (a?.nodeId == null) continue;
    explained.add(placementBackendId(d, a as ReplicaAssignment & { nodeId: string }));
    if (a.next) explained.add(placementBackendId(d, a.next));
  }
  const byName = new Map(input.deployments.map((d) => [d.name, d]));
  for (const n of input.nodes) {
    for (const b of n.backends) {
      if (explained.has(b.id) && b.nodeId === n.nodeId) continue;
      plan.stops.push({ nodeId: n.nodeId, job: { kind: "stop", backendId: b.id, reason: stopReason(b, byName, final) } });
    }
  }

  for (const id of cordoned) if (nodes.has(id)) plan.drainRemaining.set(id, 0);
  for (const a of final.values()) {
    if (a.nodeId !== null && plan.drainRemaining.has(a.nodeId)) plan.drainRemaining.set(a.nodeId, (plan.drainRemaining.get(a.nodeId) ?? 0) + 1);
  }
  plan.status = deploymentStatus(input.deployments, backends, final, notes, input.generations);
  return plan;
}

function promote(next: NonNullable<ReplicaAssignment["next"]>): ReplicaAssignment & { nodeId: string } {
  return {
    nodeId: next.nodeId,
    gpus: [...next.gpus],
    generation: next.generation,
    ...(next.template !== undefined ? { template: next.template } : {}),
    ...(next.placedAt !== undefined ? { placedAt: next.placedAt } : {}),
  };
}

function failureFields(a: ReplicaAssignment | undefined): Pick<ReplicaAssignment, "failures" | "lastFailure"> {
  if (a?.failures === undefined) return {};
  return { failures: a.failures, ...(a.lastFailure !== undefined ? { lastFailure: a.lastFailure } : {}) };
}

function withoutFailures<A extends ReplicaAssignment>(a: A): A {
  const copy = { ...a };
  delete copy.failures;
  delete copy.retryAt;
  delete copy.lastFailure;
  return copy;
}

/** The lowest generation a new placement may reuse nothing below: above every stored one. */
function minGeneration(a: ReplicaAssignment | undefined): number {
  if (a === undefined) return -1;
  return Math.max(a.generation, a.next?.generation ?? -1);
}

function sameAssignment(a: ReplicaAssignment, b: ReplicaAssignment): boolean {
  return a.nodeId === b.nodeId && a.generation === b.generation && a.failures === b.failures && a.retryAt === b.retryAt && a.lastFailure === b.lastFailure && a.next === undefined && b.next === undefined;
}

function ref(d: DesiredReplica, generation: number): ReplicaRef {
  return { deployment: d.deployment.name, region: d.region, replica: d.replica, generation };
}

function startJob(d: DesiredReplica, p: Placement): StartJob {
  const dep = d.deployment;
  return {
    kind: "start",
    replica: ref(d, p.generation),
    model: dep.model,
    engine: dep.engine,
    ...(dep.image !== undefined ? { image: dep.image } : {}),
    args: [...dep.args],
    ...(dep.gpuMemoryFraction !== undefined ? { gpuMemoryFraction: dep.gpuMemoryFraction } : {}),
    ...(dep.contextLength !== undefined ? { contextLength: dep.contextLength } : {}),
    gpus: [...p.gpus],
  };
}

/** A healthy backend already serving this replica in its region, above `afterGeneration`, newest first. */
function adoptable(d: DesiredReplica, afterGeneration: number, view: FleetView, byReplica: ReadonlyMap<string, Backend[]>, promised: GpuSets): { node: NodeReport; backend: Backend } | undefined {
  let best: { node: NodeReport; backend: Backend } | undefined;
  const dep = d.deployment;
  for (const b of byReplica.get(d.key) ?? []) {
    const r = b.replica;
    if (r.deployment !== dep.name || r.region !== d.region || r.replica !== d.replica || r.generation < Math.max(afterGeneration, 0)) continue;
    const node = view.nodes.get(b.nodeId);
    if (node === undefined || node.region !== d.region || node.health.state === "failed") continue;
    if (dep.jurisdiction !== undefined && node.jurisdiction !== dep.jurisdiction) continue;
    if (b.state === "failed" || b.state === "stopping" || b.model !== dep.model || b.engine !== dep.engine) continue;
    if (b.id !== backendId(node.nodeId, r) || b.gpus.length !== dep.gpusPerReplica || b.gpus.some((g) => promised.has(node.nodeId, g))) continue;
    if (node.gpus.some((g) => b.gpus.includes(g.uuid) && g.health.state === "failed")) continue;
    if (best === undefined || r.generation > best.backend.replica.generation) best = { node, backend: b };
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
    let s = this.m.get(nodeId);
    if (s === undefined) {
      s = new Set<string>();
      this.m.set(nodeId, s);
    }
    for (const g of gpus) s.add(g);
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

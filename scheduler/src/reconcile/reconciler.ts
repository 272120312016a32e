import { nodeQueueName, startJobId, stopJobId, type CapacityReport, type Deployment, type DrainProgress, type StartJob, type StopJob } from "@enclave/contracts";
import type { Logger } from "@enclave/runtime";
import { capacityReport } from "../capacity/capacity-report.js";
import type { DeploymentStore } from "../deployments/deployment-store.js";
import { NotLeaderError, isFenced, type LeaderLease } from "../leader-lease.js";
import type { SchedulerMetrics } from "../metrics.js";
import type { CordonStore } from "../registry/cordon-store.js";
import type { NodeStore } from "../registry/node-store.js";
import type { AssignmentStore } from "./assignment-store.js";
import type { NodeQueues } from "./node-queues.js";
import { planReconcile, type NodeJobFor, type ReconcileOptions, type ReconcilePlan } from "./plan-reconcile.js";
import type { StatusStore } from "./status-store.js";

export interface ReconcilerDeps {
  deployments: DeploymentStore;
  /** Written into Redis when it holds no deployment state at all (first start, or it lost its data). */
  configDeployments: readonly Deployment[];
  nodes: NodeStore;
  cordons: CordonStore;
  assignments: AssignmentStore;
  status: StatusStore;
  queues: NodeQueues;
  lease: LeaderLease;
  metrics: SchedulerMetrics;
  log: Logger;
  options: ReconcileOptions;
  /** A job already added is added again (a no-op unless it was lost) at most this often. */
  resendAfterMs: number;
  now?: () => number;
}

/** The capacity report (N+1 simulation) is refreshed at least this often, and on every pass that moved placements. */
const CAPACITY_EVERY_MS = 5000;

/** Jobs added to node queues at once; a first pass over a large fleet sends thousands. */
const SEND_CONCURRENCY = 64;

/** How long each part of the last pass took, ms (for the benchmark and the debug log). */
export interface PassTimings {
  read: number;
  plan: number;
  persist: number;
  send: number;
  status: number;
  total: number;
}

/** The imperative shell around `planReconcile`: read Redis, decide, persist (fenced), send jobs, publish status. */
export class Reconciler {
  private readonly sentAt = new Map<string, number>();
  private lastUnplaced = new Map<string, string>();
  private lastMoving = new Map<string, string>();
  /** Per deployment and region, the replica gauges last set: only changes are written (thousands of series). */
  private replicaSeries = new Map<string, string>();
  private capacityAt = Number.NEGATIVE_INFINITY;
  private lastCordons = 0;
  private regionSeries = new Set<string>();
  private readonly now: () => number;
  lastTimings: PassTimings | undefined;

  constructor(private readonly deps: ReconcilerDeps) {
    this.now = deps.now ?? Date.now;
  }

  /** One pass; only while holding the lease. Throws NotLeaderError when a fenced write finds it lost. */
  async pass(): Promise<ReconcilePlan> {
    const { deps } = this;
    if (deps.lease.token === undefined) throw new NotLeaderError("not the leader");
    const endTimer = deps.metrics.reconcileDuration.startTimer();
    const t0 = performance.now();
    try {
      let set = await deps.deployments.all();
      if (set.version === 0 && deps.configDeployments.length > 0) {
        const seeded = await deps.deployments.seed(deps.configDeployments, this.now());
        if (seeded.written.length > 0) deps.log.warn({ deployments: seeded.written }, "redis held no deployments; wrote those of the config file");
        set = await deps.deployments.all();
      }
      const [nodes, stored, cordons] = await Promise.all([deps.nodes.live(), deps.assignments.read(), deps.cordons.all()]);
      const assignments = stored.map;
      const t1 = performance.now();
      const now = this.now();
      const generations = new Map([...set.records.values()].map((r) => [r.spec.name, r.generation]));
      const cordoned = new Set(cordons.keys());
      const plan = planReconcile({ deployments: set.specs, generations, nodes, assignments, cordoned, now, options: deps.options });
      const t2 = performance.now();
      try {
        // A long pass (a first placement of a large fleet) may outlast the lease: renew it, or take it
        // again if nobody else did; the write below then also checks that no placement changed meanwhile.
        if (!(await deps.lease.acquire())) throw new NotLeaderError("another scheduler took the lease during this pass; it sent nothing");
        const held = deps.lease.token!;
        // Persist before sending: a job whose placement was not stored could never be explained later.
        await deps.assignments.apply(held, stored.version, plan.changed, plan.removed);
        await deps.assignments.checkLease(held);
      } catch (e) {
        if (e instanceof NotLeaderError) throw e;
        if (!isFenced(e)) throw e;
        deps.lease.lost();
        throw new NotLeaderError("another scheduler took the lease; this pass sent nothing");
      }
      const t3 = performance.now();
      this.report(plan);
      await this.send(plan);
      const t4 = performance.now();
      // Capacity moves slowly and its N+1 simulation is the costliest part of a quiet pass: every few seconds, or when placements moved.
      const changed = plan.changed.size > 0 || plan.removed.length > 0 || cordons.size !== this.lastCordons;
      let capacity: CapacityReport | undefined;
      if (changed || now - this.capacityAt >= CAPACITY_EVERY_MS) {
        capacity = capacityReport({ deployments: set.specs, nodes, assignments: plan.final, cordoned, strategy: deps.options.strategy, now });
        this.capacityAt = now;
        this.lastCordons = cordons.size;
      }
      const drain: DrainProgress = {};
      for (const [nodeId, remaining] of plan.drainRemaining) drain[nodeId] = { since: cordons.get(nodeId)?.since ?? 0, remaining };
      await deps.status.put({ updatedAt: now, deployments: plan.status }, capacity, drain);
      if (capacity !== undefined) this.reportCapacity(capacity.regions);
      deps.metrics.deployments.set(set.specs.length);
      deps.metrics.cordonedNodes.set(plan.drainRemaining.size);
      const t5 = performance.now();
      this.lastTimings = { read: t1 - t0, plan: t2 - t1, persist: t3 - t2, send: t4 - t3, status: t5 - t4, total: t5 - t0 };
      return plan;
    } finally {
      endTimer();
    }
  }

  private async send(plan: ReconcilePlan): Promise<void> {
    const now = this.now();
    for (const [id, at] of this.sentAt) if (now - at >= this.deps.resendAfterMs) this.sentAt.delete(id);
    const jobs: { nodeId: string; id: string; add: () => Promise<void> }[] = [
      ...plan.starts.map((s) => this.startJob(s, true)),
      ...plan.startRepairs.map((s) => this.startJob(s, false)),
      ...plan.stops.map((s) => this.stopJob(s)),
    ].filter((j): j is NonNullable<typeof j> => j !== undefined);
    let i = 0;
    const worker = async () => {
      for (let j = jobs[i++]; j !== undefined; j = jobs[i++]) {
        try {
          await j.add();
          this.sentAt.set(j.id, now);
        } catch (e) {
          // Not marked as sent: the next pass tries again.
          this.deps.log.warn({ err: { message: (e as Error).message }, node: j.nodeId, job: j.id }, "could not enqueue a node job");
        }
      }
    };
    await Promise.all(Array.from({ length: Math.min(SEND_CONCURRENCY, jobs.length) }, worker));
  }

  private startJob(s: NodeJobFor<StartJob>, isNew: boolean) {
    const id = `${nodeQueueName(s.nodeId)}/${startJobId(s.job.replica)}`;
    if (!isNew && this.sentAt.has(id)) return undefined;
    return { nodeId: s.nodeId, id, add: () => this.deps.queues.start(s.nodeId, s.job) };
  }

  private stopJob(s: NodeJobFor<StopJob>) {
    const id = `${nodeQueueName(s.nodeId)}/${stopJobId(s.job.backendId)}`;
    if (this.sentAt.has(id)) return undefined;
    return {
      nodeId: s.nodeId,
      id,
      add: async () => {
        await this.deps.queues.stop(s.nodeId, s.job);
        this.deps.log.info({ node: s.nodeId, backend: s.job.backendId, reason: s.job.reason }, "stop sent");
      },
    };
  }

  /** Logs decisions once (not on every pass) and sets the replica metrics. */
  private report(plan: ReconcilePlan): void {
    const { log, metrics } = this.deps;
    for (const m of plan.moved) log.warn({ replica: m.key, from: m.fromNode, reason: m.reason }, "replica placement fell; placing again in its region");
    for (const p of plan.promoted) log.info({ replica: p.key, from: p.fromNode, to: p.toNode, reason: p.reason }, "replacement ready; stopping the old replica");
    for (const s of plan.starts) log.info({ replica: s.job.replica, node: s.nodeId, gpus: s.job.gpus }, "replica placed");
    const unplaced = new Map<string, string>();
    for (const u of plan.unplaced) {
      unplaced.set(u.key, u.reason);
      metrics.placementFailures.inc({ deployment: u.deployment, region: u.region });
      if (this.lastUnplaced.get(u.key) !== u.reason) log.warn({ replica: u.key, reason: u.reason }, "replica cannot be placed");
    }
    this.lastUnplaced = unplaced;
    const moving = new Map<string, string>();
    let blocked = 0;
    for (const s of plan.surges) {
      const text = s.blocked ?? `to ${s.toNode}`;
      moving.set(s.key, text);
      if (s.blocked !== undefined) blocked++;
      if (this.lastMoving.get(s.key) !== text) {
        if (s.blocked !== undefined) log.warn({ replica: s.key, from: s.fromNode, reason: s.reason, blocked: s.blocked }, "replica should move but cannot yet; it keeps serving");
        else log.info({ replica: s.key, from: s.fromNode, to: s.toNode, reason: s.reason }, "moving a replica: replacement first");
      }
    }
    this.lastMoving = moving;
    metrics.movingReplicas.set({ blocked: "false" }, plan.surges.length - blocked);
    metrics.movingReplicas.set({ blocked: "true" }, blocked);

    const unplacedCount = new Map<string, number>();
    for (const u of plan.unplaced) unplacedCount.set(`${u.deployment}\n${u.region}`, (unplacedCount.get(`${u.deployment}\n${u.region}`) ?? 0) + 1);
    // Series of deployments that are gone are removed; the rest are set in place (no reset, so a scrape never sees a gap).
    const series = new Map<string, string>();
    for (const d of plan.status) {
      for (const r of d.regions) {
        const k = `${d.name}\n${r.region}`;
        const un = unplacedCount.get(k) ?? 0;
        const values = `${r.ready} ${r.desired - r.ready - un} ${un}`;
        series.set(k, values);
        if (this.replicaSeries.get(k) === values) continue;
        metrics.replicas.set({ deployment: d.name, region: r.region, state: "ready" }, r.ready);
        metrics.replicas.set({ deployment: d.name, region: r.region, state: "pending" }, r.desired - r.ready - un);
        metrics.replicas.set({ deployment: d.name, region: r.region, state: "unplaced" }, un);
      }
    }
    for (const k of this.replicaSeries.keys()) {
      if (series.has(k)) continue;
      const [deployment, region] = k.split("\n") as [string, string];
      for (const state of ["ready", "pending", "unplaced"]) metrics.replicas.remove({ deployment, region, state });
    }
    this.replicaSeries = series;
  }

  private reportCapacity(regions: readonly { region: string; gpus: { free: number }; nPlusOne: { ok: boolean } }[]): void {
    const { metrics } = this.deps;
    const seen = new Set<string>();
    for (const r of regions) {
      seen.add(r.region);
      metrics.freeGpus.set({ region: r.region }, r.gpus.free);
      metrics.nPlusOne.set({ region: r.region }, r.nPlusOne.ok ? 1 : 0);
    }
    for (const region of this.regionSeries) {
      if (seen.has(region)) continue;
      metrics.freeGpus.remove({ region });
      metrics.nPlusOne.remove({ region });
    }
    this.regionSeries = seen;
  }
}

import { nodeQueueName, startJobId, stopJobId, type Deployment, type StartJob, type StopJob } from "@enclave/contracts";
import type { Logger } from "@enclave/runtime";
import type { SchedulerMetrics } from "../metrics.js";
import type { NodeStore } from "../registry/node-store.js";
import type { AssignmentStore } from "./assignment-store.js";
import type { NodeQueues } from "./node-queues.js";
import { planReconcile, type NodeJobFor, type ReconcilePlan } from "./plan-reconcile.js";
import type { StatusStore } from "./status-store.js";

export interface ReconcilerDeps {
  deployments: readonly Deployment[];
  nodes: NodeStore;
  assignments: AssignmentStore;
  status: StatusStore;
  queues: NodeQueues;
  metrics: SchedulerMetrics;
  log: Logger;
  /** A job already added is added again (a no-op unless it was lost) at most this often. */
  resendAfterMs: number;
  now?: () => number;
}

/** The imperative shell around `planReconcile`: read Redis, decide, persist, send jobs, publish status. */
export class Reconciler {
  private readonly sentAt = new Map<string, number>();
  private lastUnplaced = new Map<string, string>();
  private readonly now: () => number;

  constructor(private readonly deps: ReconcilerDeps) {
    this.now = deps.now ?? Date.now;
  }

  async pass(): Promise<ReconcilePlan> {
    const { deps } = this;
    const endTimer = deps.metrics.reconcileDuration.startTimer();
    try {
      const [nodes, assignments] = await Promise.all([deps.nodes.live(), deps.assignments.all()]);
      const plan = planReconcile({ deployments: deps.deployments, nodes, assignments });
      // Persist before sending: a job whose placement was not stored could never be explained later.
      await deps.assignments.apply(plan.changed, plan.removed);
      this.report(plan);
      await this.send(plan);
      await deps.status.put({ updatedAt: this.now(), deployments: plan.status });
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
    for (const j of jobs) {
      try {
        await j.add();
        this.sentAt.set(j.id, now);
      } catch (e) {
        // Not marked as sent: the next pass tries again.
        this.deps.log.warn({ err: { message: (e as Error).message }, node: j.nodeId, job: j.id }, "could not enqueue a node job");
      }
    }
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
    for (const s of plan.starts) log.info({ replica: s.job.replica, node: s.nodeId, gpus: s.job.gpus }, "replica placed");
    const unplaced = new Map<string, string>();
    for (const u of plan.unplaced) {
      unplaced.set(u.key, u.reason);
      metrics.placementFailures.inc({ deployment: u.deployment, region: u.region });
      if (this.lastUnplaced.get(u.key) !== u.reason) log.warn({ replica: u.key, reason: u.reason }, "replica cannot be placed");
    }
    this.lastUnplaced = unplaced;

    const unplacedCount = new Map<string, number>();
    for (const u of plan.unplaced) unplacedCount.set(`${u.deployment}\n${u.region}`, (unplacedCount.get(`${u.deployment}\n${u.region}`) ?? 0) + 1);
    metrics.replicas.reset();
    for (const d of plan.status) {
      for (const r of d.regions) {
        const un = unplacedCount.get(`${d.name}\n${r.region}`) ?? 0;
        metrics.replicas.set({ deployment: d.name, region: r.region, state: "ready" }, r.ready);
        metrics.replicas.set({ deployment: d.name, region: r.region, state: "pending" }, r.desired - r.ready - un);
        metrics.replicas.set({ deployment: d.name, region: r.region, state: "unplaced" }, un);
      }
    }
  }
}

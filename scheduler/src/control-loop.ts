import type { Logger } from "@enclave/runtime";
import type { LeaderLease } from "./leader-lease.js";
import type { SchedulerMetrics } from "./metrics.js";
import type { Reconciler } from "./reconcile/reconciler.js";
import type { RoutePublisher } from "./routes/route-publisher.js";

export interface ControlLoopDeps {
  intervalMs: number;
  lease: LeaderLease;
  reconciler: Reconciler;
  routes: RoutePublisher;
  metrics: SchedulerMetrics;
  log: Logger;
}

/**
 * Every `intervalMs`: the lease holder reconciles, and every replica refreshes its route
 * table (so expired nodes leave it even when no heartbeat arrives). A failing tick is
 * logged and retried on the next one; nothing here can end the process.
 */
export class ControlLoop {
  private timer: NodeJS.Timeout | undefined;
  private running: Promise<void> | undefined;
  private stopped = false;
  private problem: string | undefined;

  constructor(private readonly deps: ControlLoopDeps) {}

  start(): void {
    this.schedule(0);
  }

  /** Why the last tick failed, or undefined. */
  get lastProblem(): string | undefined {
    return this.problem;
  }

  async stop(): Promise<void> {
    this.stopped = true;
    clearTimeout(this.timer);
    await this.running;
  }

  /**
   * Fixed rate: a tick starts every `intervalMs` however long the last one took, but leaves at
   * least a quarter interval between ticks, so a slow pass never starves heartbeats.
   */
  private schedule(ms: number): void {
    if (this.stopped) return;
    this.timer = setTimeout(() => {
      const started = Date.now();
      this.running = this.tick().finally(() => {
        this.running = undefined;
        const { intervalMs } = this.deps;
        this.schedule(Math.max(intervalMs / 4, intervalMs - (Date.now() - started)));
      });
    }, ms);
  }

  private async tick(): Promise<void> {
    const { lease, reconciler, routes, metrics } = this.deps;
    const problems: string[] = [];
    try {
      const leading = await lease.acquire();
      metrics.leader.set(leading ? 1 : 0);
      if (leading) await reconciler.pass();
    } catch (e) {
      metrics.leader.set(lease.isHeld ? 1 : 0);
      problems.push(`reconcile: ${(e as Error).message}`);
    }
    try {
      await routes.refresh();
    } catch (e) {
      problems.push(`routes: ${(e as Error).message}`);
    }
    this.note(problems.length > 0 ? problems.join("; ") : undefined);
  }

  /** Logs when a problem starts, changes or ends, not on every tick. */
  private note(problem: string | undefined): void {
    if (problem === this.problem) return;
    if (problem !== undefined) this.deps.log.warn({ problem }, "control loop tick failed; retrying");
    else this.deps.log.info("control loop recovered");
    this.problem = problem;
  }
}

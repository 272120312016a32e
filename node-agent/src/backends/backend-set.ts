import { backendId, type Backend, type StartJob } from "@enclave/contracts";
import type { Logger } from "@enclave/runtime";
import { backoffMs } from "@enclave/runtime";
import type { EngineDriver } from "../engine/engine-driver.js";
import type { EngineProbe } from "../engine/engine-probe.js";
import { EngineSupervisor } from "../supervisor/engine-supervisor.js";

export interface BackendSetOptions {
  nodeId: string;
  driver: EngineDriver;
  probe: EngineProbe;
  /** The `engines` section of the agent config (restart policy, timings, host). */
  engines: {
    host: string;
    startupTimeoutMs: number;
    healthIntervalMs: number;
    restart: { initialBackoffMs: number; maxBackoffMs: number; maxRestarts: number };
  };
  stopGraceMs: number;
  /**
   * For drivers whose engines outlive the agent: leave them running on close (the next
   * agent adopts them) rather than stopping them, and how often to remove orphans.
   */
  persistence?: { leaveRunningOnClose: boolean; orphanSweepIntervalMs: number };
  log: Logger;
  onStateChange(): void;
  onRestart(): void;
}

/** This node's backends by id, one supervisor each. */
export class BackendSet {
  private readonly supervisors = new Map<string, EngineSupervisor>();
  private closing = false;
  private sweepTimer: NodeJS.Timeout | undefined;
  private sweeping: Promise<void> | undefined;

  constructor(private readonly o: BackendSetOptions) {}

  list(): Backend[] {
    return [...this.supervisors.values()].map((s) => s.snapshot());
  }

  get(id: string): EngineSupervisor | undefined {
    return this.supervisors.get(id);
  }

  /**
   * The backend for this placement, started if need be. Idempotent: a backend that
   * exists in any state but failed is returned as it is, so a job delivered twice
   * never starts a second engine. A failed one is replaced; a stopping one is awaited
   * first, so the new engine never overlaps the old.
   */
  async ensureStarted(job: StartJob): Promise<{ supervisor: EngineSupervisor; created: boolean }> {
    const id = backendId(this.o.nodeId, job.replica);
    for (;;) {
      if (this.closing) throw new Error("agent is shutting down");
      const existing = this.supervisors.get(id);
      if (existing && existing.phase !== "failed" && existing.phase !== "stopping") return { supervisor: existing, created: false };
      if (!existing) break;
      await this.remove(existing);
    }
    const { engines } = this.o;
    const supervisor = new EngineSupervisor({
      nodeId: this.o.nodeId,
      spec: {
        backendId: id,
        replica: job.replica,
        model: job.model,
        engine: job.engine,
        gpus: job.gpus,
        args: job.args,
        ...(job.image !== undefined ? { image: job.image } : {}),
        ...(job.gpuMemoryFraction !== undefined ? { gpuMemoryFraction: job.gpuMemoryFraction } : {}),
        ...(job.contextLength !== undefined ? { contextLength: job.contextLength } : {}),
      },
      driver: this.o.driver,
      probe: this.o.probe,
      policy: {
        startupTimeoutMs: engines.startupTimeoutMs,
        maxRestarts: engines.restart.maxRestarts,
        backoffMs: (attempt) => backoffMs(attempt, engines.restart.initialBackoffMs, engines.restart.maxBackoffMs),
      },
      healthIntervalMs: engines.healthIntervalMs,
      stopGraceMs: this.o.stopGraceMs,
      placeholderUrl: `http://${urlHost(engines.host)}:0`,
      log: this.o.log,
      onStateChange: this.o.onStateChange,
      onRestart: this.o.onRestart,
    });
    this.supervisors.set(id, supervisor);
    this.o.onStateChange();
    return { supervisor, created: true };
  }

  /** Stops and forgets a backend; false when there is none by that id. */
  async stop(id: string): Promise<boolean> {
    const s = this.supervisors.get(id);
    if (!s) return false;
    await this.remove(s);
    return true;
  }

  /**
   * Takes over what an earlier agent left (drivers whose engines outlive the agent):
   * adopts its running engines, without restarting them, as backends of this set,
   * removes orphans, and from then on removes orphans every interval. Never throws:
   * an unreachable Docker API is logged, and start jobs then fail with the reason.
   */
  async takeOver(): Promise<{ adopted: string[]; removed: string[] }> {
    const persistent = this.o.driver.persistent;
    const out = { adopted: [] as string[], removed: [] as string[] };
    if (!persistent || this.closing) return out;
    try {
      for (const spec of await persistent.survivors()) {
        const job: StartJob = { kind: "start", ...spec };
        if (backendId(this.o.nodeId, job.replica) !== spec.backendId) continue;
        const { created } = await this.ensureStarted(job);
        if (created) out.adopted.push(spec.backendId);
      }
      if (out.adopted.length > 0) this.o.log.info({ backends: out.adopted }, "adopted engines left running by an earlier agent");
    } catch (e) {
      this.o.log.error({ err: errorText(e) }, "cannot adopt running engines");
    }
    out.removed = await this.sweepOrphans();
    const every = this.o.persistence?.orphanSweepIntervalMs;
    if (every !== undefined && !this.closing && this.sweepTimer === undefined) {
      this.sweepTimer = setInterval(() => void this.sweepOrphans(), every);
      this.sweepTimer.unref();
    }
    return out;
  }

  /** Stops and removes engines of this node that no backend owns. Never throws; one sweep at a time. */
  sweepOrphans(): Promise<string[]> {
    const persistent = this.o.driver.persistent;
    if (!persistent) return Promise.resolve([]);
    const run = (async () => {
      await this.sweeping;
      try {
        // Owned is read after the driver lists containers, so a backend created meanwhile is never taken for an orphan.
        const removed = await persistent.removeOrphans(() => new Set(this.supervisors.keys()));
        if (removed.length > 0) this.o.log.warn({ removed }, "removed orphaned engines");
        return removed;
      } catch (e) {
        this.o.log.error({ err: errorText(e) }, "orphan sweep failed");
        return [];
      }
    })();
    this.sweeping = run.then(() => {});
    return run;
  }

  /**
   * Ends every backend; no new backend can be started afterwards. Engines are stopped,
   * unless the driver's outlive the agent and `persistence.leaveRunningOnClose` says to
   * leave them for the next agent.
   */
  async close(): Promise<void> {
    this.closing = true;
    clearInterval(this.sweepTimer);
    await this.sweeping;
    if (this.o.driver.persistent && this.o.persistence?.leaveRunningOnClose) {
      await Promise.all([...this.supervisors.values()].map((s) => s.release()));
      this.supervisors.clear();
    } else {
      await Promise.all([...this.supervisors.values()].map((s) => this.remove(s)));
    }
    await this.o.driver.close?.();
  }

  private async remove(s: EngineSupervisor): Promise<void> {
    await s.stop();
    if (this.supervisors.get(s.id) === s) {
      this.supervisors.delete(s.id);
      this.o.onStateChange();
    }
  }
}

/** IPv6 literals need brackets in a URL. */
export function urlHost(host: string): string {
  return host.includes(":") && !host.startsWith("[") ? `[${host}]` : host;
}

function errorText(e: unknown): string {
  return e instanceof Error ? e.message : String(e);
}

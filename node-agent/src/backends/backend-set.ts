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
  log: Logger;
  onStateChange(): void;
  onRestart(): void;
}

/** This node's backends by id, one supervisor each. */
export class BackendSet {
  private readonly supervisors = new Map<string, EngineSupervisor>();
  private closing = false;

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
      spec: { backendId: id, replica: job.replica, model: job.model, engine: job.engine, gpus: job.gpus, args: job.args, ...(job.image !== undefined ? { image: job.image } : {}) },
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

  /** Stops every engine; no new backend can be started afterwards. */
  async close(): Promise<void> {
    this.closing = true;
    await Promise.all([...this.supervisors.values()].map((s) => this.remove(s)));
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

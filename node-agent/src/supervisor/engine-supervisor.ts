import type { Backend, BackendState } from "@enclave/contracts";
import type { Logger } from "@enclave/runtime";
import { delay } from "@enclave/runtime";
import { EngineStartError, type EngineDriver, type EngineHandle, type EngineSpec } from "../engine/engine-driver.js";
import type { EngineProbe } from "../engine/engine-probe.js";
import {
  initialTransition,
  transition,
  type SupervisorEffect,
  type SupervisorEvent,
  type SupervisorPolicy,
  type SupervisorState,
} from "./supervisor-machine.js";

export interface EngineSupervisorOptions {
  nodeId: string;
  spec: EngineSpec;
  driver: EngineDriver;
  probe: EngineProbe;
  policy: SupervisorPolicy;
  healthIntervalMs: number;
  /** SIGTERM-to-SIGKILL grace when an engine is stopped. */
  stopGraceMs: number;
  /** Advertised before the first launch, when no engine address exists yet (never routed: not ready). */
  placeholderUrl: string;
  log: Logger;
  /** The backend's state or restart count changed: worth telling the scheduler now. */
  onStateChange(): void;
  onRestart(): void;
  now?: () => number;
}

/**
 * Keeps one backend's engine alive: the imperative shell around `supervisor-machine`,
 * which decides; this class launches, probes, kills and sets timers.
 */
export class EngineSupervisor {
  readonly id: string;
  private state: SupervisorState;
  private handle: EngineHandle | undefined;
  private url: string;
  private pid: number | undefined;
  private pollAbort: AbortController | undefined;
  private restartTimer: NodeJS.Timeout | undefined;
  private launching: Promise<void> = Promise.resolve();
  private readonly kills = new Set<Promise<void>>();
  private readonly listeners = new Set<() => void>();
  private stopped: Promise<void> | undefined;
  /** Supervision ended without stopping the engine: nothing is launched, killed or scheduled any more. */
  private released = false;
  private readonly now: () => number;

  constructor(private readonly o: EngineSupervisorOptions) {
    this.id = o.spec.backendId;
    this.url = o.placeholderUrl;
    this.now = o.now ?? Date.now;
    const t = initialTransition(this.now(), o.policy);
    this.state = t.state;
    this.run(t.effects);
  }

  get phase(): BackendState {
    return this.state.phase;
  }

  get enginePid(): number | undefined {
    return this.state.engineUp ? this.pid : undefined;
  }

  snapshot(): Backend {
    const { spec, nodeId } = this.o;
    const s = this.state;
    return {
      id: this.id,
      nodeId,
      engine: spec.engine,
      model: spec.model,
      baseUrl: this.url,
      state: s.phase,
      load: s.phase === "ready" ? s.load : null,
      replica: spec.replica,
      gpus: [...spec.gpus],
      restarts: s.restarts,
      ...(s.detail !== undefined ? { detail: s.detail } : {}),
    };
  }

  /** Called after every change of state, detail or load; returns an unsubscribe function. */
  subscribe(cb: () => void): () => void {
    this.listeners.add(cb);
    return () => this.listeners.delete(cb);
  }

  /** Stops the engine for good; resolves once no process of this backend is left. Idempotent. */
  stop(): Promise<void> {
    this.stopped ??= (async () => {
      clearTimeout(this.restartTimer);
      this.restartTimer = undefined;
      this.dispatch({ type: "stopRequested" });
      // A launch in flight ends in 'launched', which the machine answers with a kill.
      await this.launching;
      while (this.kills.size > 0) await Promise.all([...this.kills]);
    })();
    return this.stopped;
  }

  /**
   * Stops supervising but leaves the engine running, for the next agent to adopt (engines
   * that outlive the agent, i.e. containers). A launch in flight is awaited, so what it
   * started is there to adopt. Idempotent; a backend released cannot be stopped any more.
   */
  release(): Promise<void> {
    this.stopped ??= (async () => {
      this.released = true;
      clearTimeout(this.restartTimer);
      this.restartTimer = undefined;
      await this.launching;
      this.detach();
      while (this.kills.size > 0) await Promise.all([...this.kills]);
    })();
    return this.stopped;
  }

  private dispatch(e: SupervisorEvent): void {
    const before = this.state;
    const t = transition(before, e, this.o.policy);
    this.state = t.state;
    this.run(t.effects);
    if (t.state === before) return;
    if (before.phase !== t.state.phase) {
      const level = t.state.phase === "failed" || t.state.phase === "restarting" ? "warn" : "info";
      this.o.log[level]({ backendId: this.id, from: before.phase, to: t.state.phase, detail: t.state.detail }, "backend state changed");
    }
    if (before.restarts !== t.state.restarts) this.o.onRestart();
    if (before.phase !== t.state.phase || before.restarts !== t.state.restarts) this.o.onStateChange();
    for (const cb of this.listeners) cb();
  }

  private run(effects: readonly SupervisorEffect[]): void {
    if (this.released) return;
    for (const e of effects) {
      switch (e.type) {
        case "launch":
          this.launch();
          break;
        case "killEngine":
          this.kill();
          break;
        case "scheduleRestart":
          clearTimeout(this.restartTimer);
          this.restartTimer = setTimeout(() => {
            this.restartTimer = undefined;
            this.dispatch({ type: "backoffElapsed", now: this.now() });
          }, e.delayMs);
          break;
      }
    }
  }

  private launch(): void {
    this.launching = this.o.driver.start(this.o.spec).then(
      (handle) => {
        this.handle = handle;
        this.url = handle.url;
        this.pid = handle.pid;
        const poll = new AbortController();
        this.pollAbort = poll;
        handle.onExit((code, signal, logTail) => {
          if (this.handle !== handle) return; // killed on purpose, or an older engine
          this.detach();
          this.dispatch({ type: "exited", now: this.now(), exit: { code, signal, logTail } });
        });
        this.o.log.info({ backendId: this.id, url: handle.url, pid: handle.pid }, "engine launched");
        this.dispatch({ type: "launched", now: this.now() });
        if (this.released) return;
        if (this.handle === handle) void this.poll(handle, poll.signal);
      },
      (err: unknown) => {
        const reason = err instanceof Error ? err.message : String(err);
        this.dispatch({ type: "launchFailed", now: this.now(), reason, permanent: err instanceof EngineStartError && err.permanent });
      },
    );
  }

  private kill(): void {
    const handle = this.handle;
    this.detach();
    if (!handle) return;
    const p = handle
      .stop(this.o.stopGraceMs)
      .catch((e: unknown) => this.o.log.error({ backendId: this.id, err: e }, "could not stop engine"))
      .finally(() => this.kills.delete(p));
    this.kills.add(p);
  }

  private detach(): void {
    this.handle = undefined;
    this.pollAbort?.abort();
    this.pollAbort = undefined;
  }

  /** Health every interval while the engine runs; load too while it is ready. */
  private async poll(handle: EngineHandle, signal: AbortSignal): Promise<void> {
    const { probe, healthIntervalMs, spec } = this.o;
    while (!signal.aborted) {
      try {
        const problem = await probe.health(handle.url, signal, handle.probe);
        if (signal.aborted) return;
        this.dispatch(problem === undefined ? { type: "healthOk", now: this.now() } : { type: "healthFailed", now: this.now(), reason: problem });
        if (this.state.phase === "ready") {
          const load = await probe.load(handle.url, spec.model, signal, handle.probe);
          if (signal.aborted) return;
          this.dispatch({ type: "loadScraped", load });
        }
      } catch (e) {
        // Probes report problems as values; this is a bug, and must not end supervision.
        this.o.log.error({ backendId: this.id, err: e }, "engine probe threw");
      }
      await delay(healthIntervalMs, undefined, { signal }).catch(() => {});
    }
  }
}

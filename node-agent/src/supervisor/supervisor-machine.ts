import type { BackendLoad, BackendState } from "@enclave/contracts";

/**
 * The life of one backend as a pure function of events: the supervisor shell feeds
 * it what happened (launch result, health probe, process exit, timer) and carries
 * out the effects it returns.
 */

export interface SupervisorPolicy {
  /** From launch (or from a health failure while ready) until /health must answer 200. */
  startupTimeoutMs: number;
  /** Failed starts and crashes in a row that are retried; one more and the backend is failed. */
  maxRestarts: number;
  /** Delay before retry number `attempt` (0-based); injected so tests can fix the jitter. */
  backoffMs(attempt: number): number;
}

export interface EngineExit {
  code: number | null;
  signal: string | null;
  logTail: string;
}

export interface SupervisorState {
  readonly phase: BackendState;
  /** An engine process is believed alive: launched, not yet exited or killed by us. */
  readonly engineUp: boolean;
  /** Failed starts and crashes in a row since the engine was last ready. */
  readonly failures: number;
  /** Relaunches so far, over the backend's whole life. */
  readonly restarts: number;
  /** While starting: when the engine must be healthy by. */
  readonly deadline: number | null;
  readonly load: BackendLoad | null;
  /** Why it is not ready, for operators; at most DETAIL_MAX characters. */
  readonly detail: string | undefined;
  /** The last failed start or crash, kept while the restart it caused is under way. */
  readonly lastFailure: string | undefined;
}

export type SupervisorEvent =
  | { type: "launched"; now: number }
  /** `permanent`: retrying cannot help (the image is not on this node), so the backend fails at once. */
  | { type: "launchFailed"; now: number; reason: string; permanent?: boolean }
  | { type: "healthOk"; now: number }
  | { type: "healthFailed"; now: number; reason: string }
  | { type: "loadScraped"; load: BackendLoad | null }
  | { type: "exited"; now: number; exit: EngineExit }
  | { type: "backoffElapsed"; now: number }
  | { type: "stopRequested" };

export type SupervisorEffect =
  | { type: "launch" }
  /** Stop the current engine process; its exit is then expected and ignored. */
  | { type: "killEngine" }
  | { type: "scheduleRestart"; delayMs: number };

export interface Transition {
  state: SupervisorState;
  effects: SupervisorEffect[];
}

/** Backend.detail's schema limit. */
export const DETAIL_MAX = 2000;
/** How much of an engine's last output goes into detail. */
const LOG_TAIL_IN_DETAIL = 1200;

export function initialTransition(now: number, policy: SupervisorPolicy): Transition {
  return {
    state: {
      phase: "starting",
      engineUp: false,
      failures: 0,
      restarts: 0,
      deadline: now + policy.startupTimeoutMs,
      load: null,
      detail: "launching engine",
      lastFailure: undefined,
    },
    effects: [{ type: "launch" }],
  };
}

export function transition(s: SupervisorState, e: SupervisorEvent, policy: SupervisorPolicy): Transition {
  const same: Transition = { state: s, effects: [] };
  if (s.phase === "stopping" || s.phase === "failed") {
    // Nothing revives a backend that is going away or given up on; a late launch is undone.
    if (e.type === "launched") return { state: { ...s, engineUp: false }, effects: [{ type: "killEngine" }] };
    if (e.type === "exited") return { state: { ...s, engineUp: false }, effects: [] };
    if (e.type === "stopRequested" && s.phase === "failed") return stop(s);
    return same;
  }
  switch (e.type) {
    case "launched":
      if (s.phase !== "starting" || s.engineUp) return { state: s, effects: [{ type: "killEngine" }] };
      return { state: { ...s, engineUp: true, detail: "waiting for /health" }, effects: [] };

    case "launchFailed":
      if (s.phase !== "starting" || s.engineUp) return same;
      if (e.permanent) {
        const reason = `engine cannot start: ${e.reason}`;
        return { state: { ...s, phase: "failed", failures: s.failures + 1, deadline: null, load: null, lastFailure: reason, detail: clip(reason) }, effects: [] };
      }
      return failure(s, `engine did not start: ${e.reason}`, false, policy);

    case "healthOk":
      if (!s.engineUp || s.phase === "ready") return same;
      return { state: { ...s, phase: "ready", failures: 0, deadline: null, detail: undefined }, effects: [] };

    case "healthFailed":
      if (!s.engineUp) return same;
      if (s.phase === "ready") {
        // Not routable until healthy again; if it stays unhealthy past the startup
        // timeout it is restarted like an engine that never came up.
        return {
          state: { ...s, phase: "starting", deadline: e.now + policy.startupTimeoutMs, load: null, detail: clip(`not healthy: ${e.reason}`) },
          effects: [],
        };
      }
      if (s.phase === "starting" && s.deadline !== null && e.now >= s.deadline) {
        return failure(s, `not healthy within ${policy.startupTimeoutMs} ms: ${e.reason}`, true, policy);
      }
      return same;

    case "loadScraped":
      if (s.phase !== "ready") return same;
      return { state: { ...s, load: e.load }, effects: [] };

    case "exited":
      if (!s.engineUp) return same;
      return failure(s, describeExit(e.exit), false, policy);

    case "backoffElapsed":
      if (s.phase !== "restarting") return same;
      return {
        state: {
          ...s,
          phase: "starting",
          restarts: s.restarts + 1,
          deadline: e.now + policy.startupTimeoutMs,
          detail: clip(`restart ${s.restarts + 1}, after: ${s.lastFailure ?? "a failure"}`),
        },
        effects: [{ type: "launch" }],
      };

    case "stopRequested":
      return stop(s);
  }
}

function stop(s: SupervisorState): Transition {
  return {
    state: { ...s, phase: "stopping", engineUp: false, deadline: null, load: null, detail: "stopping" },
    effects: s.engineUp ? [{ type: "killEngine" }] : [],
  };
}

/** A failed start or a crash: retry after a backoff, or give up after maxRestarts in a row. */
function failure(s: SupervisorState, reason: string, kill: boolean, policy: SupervisorPolicy): Transition {
  const failures = s.failures + 1;
  const effects: SupervisorEffect[] = kill && s.engineUp ? [{ type: "killEngine" }] : [];
  const base = { ...s, engineUp: false, failures, deadline: null, load: null, lastFailure: reason };
  if (failures > policy.maxRestarts) {
    const why = `gave up after ${failures} failure${failures === 1 ? "" : "s"} in a row (restart.maxRestarts ${policy.maxRestarts}): ${reason}`;
    return { state: { ...base, phase: "failed", detail: clip(why) }, effects };
  }
  const delayMs = Math.max(0, policy.backoffMs(failures - 1));
  return {
    state: { ...base, phase: "restarting", detail: clip(`restart in ${delayMs} ms, after: ${reason}`) },
    effects: [...effects, { type: "scheduleRestart", delayMs }],
  };
}

export function describeExit(exit: EngineExit): string {
  const how = exit.signal ? `engine was killed by ${exit.signal}` : `engine exited with code ${exit.code ?? "unknown"}`;
  const log = exit.logTail.trim();
  return log ? `${how}; last output: ${log.slice(-LOG_TAIL_IN_DETAIL)}` : how;
}

function clip(s: string): string {
  return s.length <= DETAIL_MAX ? s : `${s.slice(0, DETAIL_MAX - 1)}…`;
}

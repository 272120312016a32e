/**
 * A per-backend circuit breaker, as plain data and pure transitions. Only backend
 * faults count (connect errors, timeouts, 5xx): a client's 4xx says nothing about
 * the backend. `failureThreshold` faults in a row open it for `openMs`; then one
 * probe is let through (half-open): success closes it, a fault opens it again.
 */
export type BreakerState =
  | { kind: "closed"; failures: number }
  | { kind: "open"; until: number }
  | { kind: "half-open"; probing: boolean };

export interface BreakerConfig {
  failureThreshold: number;
  openMs: number;
}

export const CLOSED: BreakerState = { kind: "closed", failures: 0 };

/** May a request go to this backend now? (An open breaker past its time becomes half-open.) */
export function breakerAdmits(s: BreakerState, now: number): boolean {
  switch (s.kind) {
    case "closed":
      return true;
    case "open":
      return now >= s.until;
    case "half-open":
      return !s.probing;
  }
}

/** The state once a request is sent. */
export function onAttempt(s: BreakerState, now: number): BreakerState {
  if (s.kind === "open" && now >= s.until) return { kind: "half-open", probing: true };
  if (s.kind === "half-open") return { kind: "half-open", probing: true };
  return s;
}

export function onSuccess(_s: BreakerState): BreakerState {
  return CLOSED;
}

export function onFault(s: BreakerState, now: number, c: BreakerConfig): BreakerState {
  if (s.kind === "closed") {
    const failures = s.failures + 1;
    return failures >= c.failureThreshold ? { kind: "open", until: now + c.openMs } : { kind: "closed", failures };
  }
  return { kind: "open", until: now + c.openMs };
}

/** The breakers of every backend this gateway has talked to (forgotten when closed and clean). */
export class Breakers {
  private readonly states = new Map<string, BreakerState>();

  constructor(
    private readonly config: BreakerConfig,
    private readonly onChange: (backendId: string, state: BreakerState["kind"]) => void = () => undefined,
    private readonly now: () => number = Date.now,
  ) {}

  admits = (backendId: string): boolean => {
    const s = this.states.get(backendId);
    return s === undefined || breakerAdmits(s, this.now());
  };

  state(backendId: string): BreakerState {
    return this.states.get(backendId) ?? CLOSED;
  }

  attempt(backendId: string): void {
    const s = this.states.get(backendId);
    if (s !== undefined) this.set(backendId, onAttempt(s, this.now()));
  }

  success(backendId: string): void {
    if (this.states.has(backendId)) this.set(backendId, onSuccess(this.state(backendId)));
  }

  fault(backendId: string): void {
    this.set(backendId, onFault(this.state(backendId), this.now(), this.config));
  }

  /** Probe ended without a verdict (client went away): let the next request probe. */
  abandon(backendId: string): void {
    const s = this.states.get(backendId);
    if (s?.kind === "half-open") this.set(backendId, { kind: "half-open", probing: false });
  }

  private set(backendId: string, next: BreakerState): void {
    const before = this.states.get(backendId)?.kind ?? "closed";
    if (next.kind === "closed" && next.failures === 0) this.states.delete(backendId);
    else this.states.set(backendId, next);
    if (before !== next.kind) this.onChange(backendId, next.kind);
  }
}

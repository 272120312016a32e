import type { BackendLoad } from "@enclave/contracts";
import type { EngineDriver, EngineHandle, EngineSpec } from "../engine/engine-driver.js";
import type { EngineProbe } from "../engine/engine-probe.js";

/** In-memory engines for testing supervision without processes. */

export const FAKE_LOAD: BackendLoad = { running: 2, waiting: 1, kvCacheUsage: 0.25 };

export class FakeHandle implements EngineHandle {
  stops = 0;
  private readonly exits: ((code: number | null, signal: string | null, logTail: string) => void)[] = [];
  constructor(readonly url: string, readonly pid: number) {}
  async stop(): Promise<void> {
    this.stops++;
  }
  onExit(cb: (code: number | null, signal: string | null, logTail: string) => void): void {
    this.exits.push(cb);
  }
  crash(): void {
    for (const cb of this.exits) cb(null, "SIGKILL", "segfault");
  }
}

/** Launches at once, or (auto false) only when told to, so a test can act while a launch is in flight. */
export class FakeDriver implements EngineDriver {
  readonly handles: FakeHandle[] = [];
  private pending: (() => void)[] = [];
  private made = 0;
  constructor(private readonly auto = true) {}
  start(_spec: EngineSpec): Promise<EngineHandle> {
    this.made++;
    const h = new FakeHandle(`http://127.0.0.1:${40000 + this.made}`, 1000 + this.made);
    const land = () => this.handles.push(h);
    if (this.auto) {
      land();
      return Promise.resolve(h);
    }
    return new Promise((resolve) => this.pending.push(() => (land(), resolve(h))));
  }
  landPending(): void {
    for (const land of this.pending.splice(0)) land();
  }
}

export function fakeProbe(state: { healthy: boolean }): EngineProbe {
  return {
    health: async () => (state.healthy ? undefined : "/health answered 503"),
    load: async () => FAKE_LOAD,
    close: async () => {},
  };
}


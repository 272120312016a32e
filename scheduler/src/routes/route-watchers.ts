import type { RouteTable } from "@enclave/contracts";

export type WatchResult = { ok: true; wait: Promise<RouteTable>; cancel(): void } | { ok: false; reason: "full" | "closing" };

interface Waiter {
  after: number;
  resolve(t: RouteTable): void;
  timer: NodeJS.Timeout;
}

/**
 * Long-poll waiters for a newer route table. Bounded: past `max` waiters a new watch is
 * refused rather than letting idle connections pile up. Every waiter ends: on a newer
 * table, on its timeout, when cancelled (client gone) or when the server closes.
 */
export class RouteWatchers {
  private readonly waiters = new Set<Waiter>();
  private closing = false;

  constructor(
    private readonly max: number,
    private readonly current: () => RouteTable,
  ) {}

  get size(): number {
    return this.waiters.size;
  }

  /** Resolves with the first table newer than `after`, or with the current one after `timeoutMs`. */
  watch(after: number, timeoutMs: number): WatchResult {
    if (this.closing) return { ok: false, reason: "closing" };
    if (this.waiters.size >= this.max) return { ok: false, reason: "full" };
    let waiter!: Waiter;
    const wait = new Promise<RouteTable>((resolve) => {
      waiter = {
        after,
        resolve,
        timer: setTimeout(() => this.finish(waiter, this.current()), Math.max(0, timeoutMs)),
      };
    });
    this.waiters.add(waiter);
    return { ok: true, wait, cancel: () => this.finish(waiter, this.current()) };
  }

  /** Wakes every waiter that has not seen `table` yet. */
  publish(table: RouteTable): void {
    for (const w of this.waiters) if (table.version > w.after) this.finish(w, table);
  }

  /** Answers every waiter with the current table and refuses new ones. */
  close(): void {
    this.closing = true;
    const table = this.current();
    for (const w of this.waiters) this.finish(w, table);
  }

  private finish(w: Waiter, table: RouteTable): void {
    if (!this.waiters.delete(w)) return;
    clearTimeout(w.timer);
    w.resolve(table);
  }
}

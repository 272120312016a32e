/** One request's claim on a generation slot. */
export interface SlotTicket {
  /** Resolves when the request may generate; stays pending for a ticket released while it waited. */
  readonly granted: Promise<void>;
  /** Frees the slot, or leaves the waiting line. Idempotent. */
  release(): void;
}

interface Entry {
  state: "waiting" | "running" | "released";
  grant: () => void;
}

/**
 * The engine's batch: at most `maxRunning` sequences generate at once, the rest wait
 * first come, first served, in a line bounded at `maxWaiting`.
 */
export class SequenceSlots {
  private runningCount = 0;
  private readonly line: Entry[] = [];

  constructor(
    readonly maxRunning: number,
    readonly maxWaiting: number,
  ) {
    if (!Number.isInteger(maxRunning) || maxRunning < 1) throw new RangeError(`maxRunning must be an integer >= 1, got ${maxRunning}`);
    if (!Number.isInteger(maxWaiting) || maxWaiting < 0) throw new RangeError(`maxWaiting must be an integer >= 0, got ${maxWaiting}`);
  }

  get running(): number {
    return this.runningCount;
  }

  get waiting(): number {
    return this.line.length;
  }

  /** A ticket, or null when every slot is taken and the waiting line is full. */
  request(): SlotTicket | null {
    const free = this.runningCount < this.maxRunning && this.line.length === 0;
    if (!free && this.line.length >= this.maxWaiting) return null;
    let resolve!: () => void;
    const granted = new Promise<void>((r) => (resolve = r));
    const entry: Entry = {
      state: "waiting",
      grant: () => {
        entry.state = "running";
        this.runningCount++;
        resolve();
      },
    };
    if (free) entry.grant();
    else this.line.push(entry);
    return { granted, release: () => this.release(entry) };
  }

  private release(entry: Entry): void {
    if (entry.state === "running") {
      entry.state = "released";
      this.runningCount--;
      this.pump();
    } else if (entry.state === "waiting") {
      entry.state = "released";
      const i = this.line.indexOf(entry);
      if (i >= 0) this.line.splice(i, 1);
    }
  }

  private pump(): void {
    while (this.runningCount < this.maxRunning) {
      const next = this.line.shift();
      if (!next) return;
      next.grant();
    }
  }
}

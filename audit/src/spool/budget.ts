export type BudgetPolicy = "fail-closed" | "alert-only";

export interface BudgetState {
  limit: number;
  policy: BudgetPolicy;
  /** Bytes in segment files, all chains. */
  used: number;
  /** Bytes appended but not written yet. */
  pending: number;
  /** Bytes held back for admitted requests whose record is not written yet. */
  reserved: number;
}

/** Would `bytes` more still fit? */
export function fits(s: BudgetState, bytes: number): boolean {
  return s.used + s.pending + s.reserved + bytes <= s.limit;
}

/**
 * Admit a new request? Under `fail-closed` only when its record is sure to fit (so every
 * admitted request can be recorded); `alert-only` always admits and lets the metrics
 * and logs say the budget is gone.
 */
export function admits(s: BudgetState, reserveBytes: number): boolean {
  return s.policy === "alert-only" || fits(s, reserveBytes);
}

/** A request admitted against the budget; release once its record is written or it ended without one. */
export interface Admission {
  release(): void;
}

/** The spool's disk budget, shared by every chain of one spool directory. */
export class SpoolBudget implements BudgetState {
  used = 0;
  pending = 0;
  reserved = 0;
  /** Requests refused since start. */
  refused = 0;

  constructor(
    readonly limit: number,
    readonly policy: BudgetPolicy,
    readonly reserveBytes: number,
  ) {}

  get exhausted(): boolean {
    return !fits(this, 0) || !fits(this, this.reserveBytes);
  }

  admit(): Admission | null {
    if (!admits(this, this.reserveBytes)) {
      this.refused++;
      return null;
    }
    this.reserved += this.reserveBytes;
    let released = false;
    return {
      release: () => {
        if (released) return;
        released = true;
        this.reserved -= this.reserveBytes;
      },
    };
  }
}

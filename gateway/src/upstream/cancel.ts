/**
 * A request's "stop now" switch (client gone, total timeout), cheaper than an
 * AbortController on the hot path: one hook at a time, the upstream call in progress.
 */
export class Cancel {
  aborted = false;
  reason = "";
  private hook: ((reason: string) => void) | null = null;

  abort(reason: string): void {
    if (this.aborted) return;
    this.aborted = true;
    this.reason = reason;
    const h = this.hook;
    this.hook = null;
    h?.(reason);
  }

  /** Runs `h` on abort (at once if already aborted) until `clear`. */
  onAbort(h: (reason: string) => void): void {
    if (this.aborted) h(this.reason);
    else this.hook = h;
  }

  clear(h: (reason: string) => void): void {
    if (this.hook === h) this.hook = null;
  }
}

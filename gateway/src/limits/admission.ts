/**
 * Bounded concurrency with a bounded wait queue for this gateway replica. Beyond
 * both, a request is shed at once (429 with Retry-After) instead of piling up.
 */
export type Admission = { ok: true; release: () => void } | { ok: false; reason: "queue_full" | "queue_timeout" | "aborted" };

export class AdmissionControl {
  private running = 0;
  private readonly waiting: { grant: () => void }[] = [];

  constructor(
    private readonly maxConcurrent: number,
    private readonly maxQueue: number,
    private readonly queueTimeoutMs: number,
  ) {}

  get inflight(): number {
    return this.running;
  }

  get queued(): number {
    return this.waiting.length;
  }

  /** Synchronous when a slot is free (the common case costs no promise). */
  tryAdmit(): (() => void) | null {
    if (this.running < this.maxConcurrent && this.waiting.length === 0) {
      this.running++;
      return this.releaser();
    }
    return null;
  }

  async admit(signal?: AbortSignal): Promise<Admission> {
    const now = this.tryAdmit();
    if (now) return { ok: true, release: now };
    if (this.waiting.length >= this.maxQueue) return { ok: false, reason: "queue_full" };
    return new Promise<Admission>((resolve) => {
      const entry = {
        grant: () => {
          cleanup();
          this.running++;
          resolve({ ok: true, release: this.releaser() });
        },
      };
      const timer = setTimeout(() => {
        cleanup();
        resolve({ ok: false, reason: "queue_timeout" });
      }, this.queueTimeoutMs);
      const onAbort = () => {
        cleanup();
        resolve({ ok: false, reason: "aborted" });
      };
      const cleanup = () => {
        clearTimeout(timer);
        signal?.removeEventListener("abort", onAbort);
        const i = this.waiting.indexOf(entry);
        if (i >= 0) this.waiting.splice(i, 1);
      };
      signal?.addEventListener("abort", onAbort, { once: true });
      this.waiting.push(entry);
    });
  }

  private releaser(): () => void {
    let done = false;
    return () => {
      if (done) return;
      done = true;
      this.running--;
      const next = this.waiting[0];
      if (next && this.running < this.maxConcurrent) next.grant();
    };
  }
}

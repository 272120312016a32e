/** Requests this gateway has open to each backend: the routing score's input. */
export class InFlight {
  private readonly counts = new Map<string, number>();

  count = (backendId: string): number => this.counts.get(backendId) ?? 0;

  /** Counts one request; the returned release is idempotent, so every exit path may call it. */
  acquire(backendId: string): () => void {
    this.counts.set(backendId, this.count(backendId) + 1);
    let released = false;
    return () => {
      if (released) return;
      released = true;
      const n = this.count(backendId) - 1;
      if (n <= 0) this.counts.delete(backendId);
      else this.counts.set(backendId, n);
    };
  }
}

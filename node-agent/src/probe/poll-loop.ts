/**
 * Runs `task` now and then again `delayMs()` after each run ends: never two at once, and a
 * slow task stretches the period instead of piling up runs. Task failures are the task's to
 * report; the loop only keeps going.
 */
export class PollLoop {
  private timer: NodeJS.Timeout | undefined;
  private running: Promise<void> | undefined;
  private stopped = false;

  constructor(
    private readonly task: () => Promise<void>,
    private readonly delayMs: () => number,
  ) {}

  /** Runs the task after `initialDelayMs` (0: now), then on its period. */
  start(initialDelayMs = 0): void {
    if (this.stopped || this.running || this.timer) return;
    if (initialDelayMs > 0) this.timer = setTimeout(() => this.tick(), initialDelayMs);
    else this.tick();
  }

  /** Stops scheduling; waits for a run in flight up to `waitMs`. */
  async stop(waitMs = 5000): Promise<void> {
    this.stopped = true;
    clearTimeout(this.timer);
    this.timer = undefined;
    if (!this.running) return;
    let t: NodeJS.Timeout | undefined;
    await Promise.race([this.running, new Promise<void>((resolve) => (t = setTimeout(resolve, waitMs)))]);
    clearTimeout(t);
  }

  private tick(): void {
    this.timer = undefined;
    this.running = this.task()
      .catch(() => {})
      .finally(() => {
        this.running = undefined;
        if (!this.stopped) this.timer = setTimeout(() => this.tick(), Math.max(0, this.delayMs()));
      });
  }
}

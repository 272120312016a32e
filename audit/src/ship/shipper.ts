import { join } from "node:path";
import { backoffMs, delay } from "@enclave/runtime/time";
import type { AuditLogger } from "../logger.js";
import { SpoolReader } from "../spool/spool-reader.js";
import type { Spool } from "../spool/spool.js";
import type { AuditSink } from "./sink.js";
import { loadShipPosition, saveShipPosition, type ShipPosition } from "./ship-position.js";

export interface ShippingOptions {
  batchRecords: number;
  batchBytes: number;
  timeoutMs: number;
  pollMs: number;
  lingerMs: number;
  backoff: { initialMs: number; maxMs: number };
}

export interface ShipperStats {
  sink: string;
  /** null until the first delivery was tried. */
  up: boolean | null;
  shipped: number;
  failures: number;
  backlogRecords: number;
  backlogBytes: number;
  /** Age of the oldest entry not yet acknowledged (0 when there is none). */
  backlogAgeSeconds: number;
  lastError: string | null;
}

/** Failures logged in a row before the shipper only logs every this many (the metrics keep counting). */
const LOG_EVERY = 20;

/**
 * Ships one chain to its sink, in order, at least once: reads from the persisted position,
 * delivers a batch, and only after the sink acknowledged it saves the new position and
 * deletes the segments wholly behind it. A failed delivery is retried with exponential
 * backoff; the spool meanwhile keeps growing (the budget decides what happens when full).
 */
export class Shipper {
  private pos: ShipPosition;
  private stopped = false;
  private draining = false;
  private readonly abort = new AbortController();
  private wake: (() => void) | null = null;
  private oldestUnshippedMs: number | null = null;
  private readonly loop: Promise<void>;
  private readonly unsubscribe: () => void;
  private readonly s: ShipperStats;

  private constructor(
    private readonly spool: Spool,
    private readonly sink: AuditSink,
    private readonly o: ShippingOptions,
    private readonly log: AuditLogger,
    private readonly file: string,
    private readonly reader: SpoolReader,
    start: ShipPosition,
  ) {
    this.pos = start;
    this.s = { sink: sink.name, up: null, shipped: 0, failures: 0, backlogRecords: 0, backlogBytes: 0, backlogAgeSeconds: 0, lastError: null };
    this.unsubscribe = spool.onDurable(() => this.wake?.());
    this.loop = this.run();
  }

  static async start(spool: Spool, sink: AuditSink, o: ShippingOptions, log: AuditLogger): Promise<Shipper> {
    const file = join(spool.dir, "shipped.json");
    const reader = new SpoolReader(spool);
    const saved = await loadShipPosition(file);
    const first = reader.start();
    const start = saved ?? { ...first, seq: Number(first.segment.slice(0, 20)) - 1 };
    return new Shipper(spool, sink, o, log, file, reader, start);
  }

  stats(): ShipperStats {
    const segs = this.spool.segments();
    let bytes = 0;
    for (const s of segs) if (s.name >= this.pos.segment) bytes += s.size;
    if (segs.some((s) => s.name === this.pos.segment)) bytes -= this.pos.offset;
    const records = Math.max(0, this.spool.durableTail.nextSeq - 1 - this.pos.seq);
    const age = records > 0 && this.oldestUnshippedMs !== null ? Math.max(0, (Date.now() - this.oldestUnshippedMs) / 1000) : 0;
    return { ...this.s, backlogRecords: records, backlogBytes: Math.max(0, bytes), backlogAgeSeconds: age };
  }

  /**
   * Ships what is durable without lingering, for at most `ms`: true when nothing is left.
   * A delivery waiting out a backoff is tried at once; later retries keep their backoff.
   * What is not acknowledged in time stays spooled for the next start.
   */
  async drain(ms: number): Promise<boolean> {
    this.draining = true;
    this.wake?.();
    const deadline = Date.now() + ms;
    while (!this.stopped && Date.now() < deadline) {
      if (this.stats().backlogRecords === 0) return true;
      await delay(10);
    }
    return this.stats().backlogRecords === 0;
  }

  /** Stops at once; a delivery in flight is abandoned (and sent again after a restart). */
  async stop(): Promise<void> {
    this.stopped = true;
    this.abort.abort();
    this.wake?.();
    this.unsubscribe();
    await this.loop;
    this.sink.close?.();
    await this.reader.close();
  }

  private async run(): Promise<void> {
    let attempt = 0;
    while (!this.stopped) {
      try {
        const batch = await this.reader.read(this.pos, this.o.batchRecords, this.o.batchBytes);
        if (batch.entries.length === 0) {
          this.oldestUnshippedMs = null;
          if (batch.next.segment !== this.pos.segment || batch.next.offset !== this.pos.offset) await this.advance({ ...batch.next, seq: this.pos.seq });
          await this.nap(this.o.pollMs, true);
          continue;
        }
        this.oldestUnshippedMs = Date.parse(batch.entries[0]!.time);
        await this.sink.deliver(batch.entries, AbortSignal.any([this.abort.signal, AbortSignal.timeout(this.o.timeoutMs)]));
        if (this.s.up === false) this.log.info({ sink: this.sink.name, chain: this.spool.chain, after: attempt }, "audit sink reachable again, draining the backlog");
        attempt = 0;
        this.s.up = true;
        this.s.shipped += batch.entries.length;
        await this.advance({ ...batch.next, seq: batch.entries[batch.entries.length - 1]!.seq });
        if (batch.atEnd && this.o.lingerMs > 0 && !this.draining) await this.nap(this.o.lingerMs, false);
      } catch (e) {
        if (this.stopped) break;
        this.s.up = false;
        this.s.failures++;
        this.s.lastError = (e as Error).message;
        if (attempt < 3 || attempt % LOG_EVERY === 0) {
          this.log.warn({ sink: this.sink.name, chain: this.spool.chain, attempt, err: this.s.lastError }, "audit delivery failed; records stay in the spool");
        }
        await this.nap(backoffMs(attempt++, this.o.backoff.initialMs, this.o.backoff.maxMs), false);
      }
    }
  }

  /** Saves the position first, then deletes what lies wholly behind it: a crash between the two only leaves a segment to delete later. */
  private async advance(p: ShipPosition): Promise<void> {
    this.pos = p;
    await saveShipPosition(this.file, p);
    await this.spool.deleteBefore(p.segment);
  }

  /** Sleeps `ms`, or less when stopped or (if `wakeOnAppend`) when new entries become durable. */
  private nap(ms: number, wakeOnAppend: boolean): Promise<void> {
    if (this.stopped) return Promise.resolve();
    return new Promise((resolve) => {
      const done = () => {
        clearTimeout(t);
        this.wake = null;
        resolve();
      };
      const t = setTimeout(done, ms);
      // Decided when woken: once draining (or stopped), a linger or backoff nap is cut short too.
      this.wake = () => (wakeOnAppend || this.stopped || this.draining) && done();
    });
  }
}

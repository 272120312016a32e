import { randomUUID } from "node:crypto";
import { mkdir, open, readdir, readFile, rename, rm, stat, writeFile, type FileHandle } from "node:fs/promises";
import { constants as fsConstants, writeSync } from "node:fs";
import { join } from "node:path";
import type { AuditCheckpoint, AuditEvent, AuditRecord } from "@enclave/contracts";
import { canonicalJson } from "../canonical-json.js";
import { buildCheckpoint, type CheckpointSigner } from "../chain/checkpoint.js";
import { buildRecord } from "../chain/audit-event.js";
import type { AuditLogger } from "../logger.js";
import { BatchBuffer } from "./batch-buffer.js";
import { fits, type SpoolBudget } from "./budget.js";
import { encodeFrame } from "./frame.js";
import { scanSegment, type EntryKind } from "./scan-segment.js";
import { firstHeader, isSegmentName, segmentName, type SegmentHeader } from "./segment-header.js";

/** Appends refused beyond this many bytes waiting for the disk: the spool is not keeping up. */
const MAX_PENDING_BYTES = 64 * 1024 * 1024;

export interface SpoolOptions {
  /** This chain's directory. */
  dir: string;
  emitter: string;
  chain: string;
  segmentBytes: number;
  groupCommit: { maxDelayMs: number; maxBytes: number };
  /**
   * When an append resolves: `durable` once its batch is on disk (survives a power cut);
   * `written` once its batch is in the kernel's page cache (survives a crash or `kill -9` of
   * the process, not a power cut), with the fdatasync following in the background.
   */
  acknowledge?: SpoolAcknowledge;
  maxRecordBytes: number;
  budget: SpoolBudget;
  log?: AuditLogger;
}

export interface SegmentInfo {
  name: string;
  /** Durable bytes: the whole file for sealed segments, what was fsynced for the active one. */
  size: number;
  sealed: boolean;
}

/** Raised when the budget is used up under `fail-closed`: the caller refuses the request. */
export class SpoolFullError extends Error {
  constructor(message: string) {
    super(message);
    this.name = "SpoolFullError";
  }
}

export type SpoolAcknowledge = "durable" | "written";

interface Tail {
  nextSeq: number;
  lastHash: string;
  lastKind: EntryKind | null;
}

interface Pending {
  seq: number;
  hash: string;
  kind: EntryKind;
  value: AuditRecord | AuditCheckpoint;
  resolve(v: AuditRecord | AuditCheckpoint): void;
  reject(e: Error): void;
}

/**
 * One emitter's chain in a directory of segment files, written with group commit: appends
 * are chained (seq, prevHash, hash) synchronously in call order and queued; a batch, bounded
 * by `maxDelayMs` and `maxBytes`, is written with one synchronous write (O_DSYNC: on disk
 * when it returns, as write + fdatasync), and only then are its appends resolved. So an
 * acknowledged record survives a power cut, and a client waits at most one batch window
 * plus one synchronous write for it (plus the write in flight before it).
 *
 * With `acknowledge: "written"` the file is opened without O_DSYNC: a batch's appends resolve
 * once its plain write returned, and one fdatasync at a time runs behind the writes, never
 * holding them up. Only synced bytes count as durable (the shipper reads no further).
 */
export class Spool {
  private nextSeq: number;
  private lastHash: string;
  private lastKind: EntryKind | null;
  private durableNextSeq: number;
  private durableLastHash: string;
  private durableLastKind: EntryKind | null;
  /** The last acknowledged entry: where the chain resumes after a failed write (durable mode: the durable tail). */
  private acked: Tail;
  /** Bytes written into the active segment (past `active.size` while a sync is due). */
  private written: number;
  /** Written but not yet synced (`written` mode): the tail and size the next fdatasync makes durable. */
  private unsynced: (Tail & { size: number; entries: number; since: number }) | null = null;
  private syncing: Promise<void> | null = null;
  private batch: Pending[] = [];
  /** The batch's frames, encoded as they are appended. */
  private readonly frames: BatchBuffer;
  private timer: NodeJS.Timeout | null = null;
  /** A batch due now is written at the end of this event-loop turn, with every append of the turn. */
  private immediate: NodeJS.Immediate | null = null;
  /** performance.now() when the batch's first entry was appended. */
  private batchSince = 0;
  /** performance.now() when the last write started (`lastSyncAt`: the last fdatasync, `written` mode). */
  private lastWriteAt = -Infinity;
  private lastSyncAt = -Infinity;
  /** Appends per ms, decayed exponentially: how busy the spool is. */
  private rate = 0;
  private lastAppendAt = -Infinity;
  /** The flush loop runs (a batch is being written); cleared the moment it stops, so appends right after start the next one. */
  private writing = false;
  private flushing: Promise<void> | null = null;
  private broken: Error | null = null;
  private closed = false;
  private readonly listeners = new Set<() => void>();
  private readonly clock = new IsoClock();
  /** Entries made durable since open. */
  appended = 0;
  /** Batches written (one synchronous write each) since open. */
  commits = 0;

  private constructor(
    private readonly o: SpoolOptions,
    private active: { name: string; fh: FileHandle; size: number },
    private readonly sealed: { name: string; size: number }[],
    tail: { nextSeq: number; lastHash: string; lastKind: EntryKind | null },
    /** Bytes of a torn tail cut off on open (kept aside in a `.torn` file). */
    readonly repairedBytes: number,
  ) {
    this.frames = new BatchBuffer(Math.min(o.groupCommit.maxBytes, 1 << 20) + o.maxRecordBytes);
    this.nextSeq = this.durableNextSeq = tail.nextSeq;
    this.lastHash = this.durableLastHash = tail.lastHash;
    this.lastKind = this.durableLastKind = tail.lastKind;
    this.acked = { nextSeq: tail.nextSeq, lastHash: tail.lastHash, lastKind: tail.lastKind };
    this.written = active.size;
  }

  private get ackWritten(): boolean {
    return this.o.acknowledge === "written";
  }

  get chain(): string {
    return this.o.chain;
  }

  get dir(): string {
    return this.o.dir;
  }

  /**
   * Opens the chain's directory (creating it and its first segment when new) and recovers:
   * the last segment is read, a torn tail (what a crash mid-batch leaves) is moved to a
   * `.torn` file and cut, and the chain continues from the last whole entry. A whole entry
   * that does not continue the chain is not a crash artefact: opening fails.
   */
  static async open(o: SpoolOptions): Promise<Spool> {
    await mkdir(o.dir, { recursive: true, mode: 0o700 });
    const names = await readdir(o.dir);
    for (const n of names) if (n.endsWith(".seg.tmp")) await rm(join(o.dir, n), { force: true });
    const segs = names.filter(isSegmentName).sort();
    if (segs.length === 0) {
      const h = firstHeader(o.emitter, o.chain, new Date());
      await createSegment(o.dir, h);
      segs.push(segmentName(0));
    }
    const sealed: { name: string; size: number }[] = [];
    for (const name of segs.slice(0, -1)) sealed.push({ name, size: (await stat(join(o.dir, name))).size });
    const lastName = segs[segs.length - 1]!;
    const lastPath = join(o.dir, lastName);
    const buf = await readFile(lastPath);
    const scan = scanSegment(buf);
    if (scan.header === null) throw new Error(`audit spool ${lastPath}: ${scan.broken ?? scan.tornReason ?? "no segment header"}`);
    if (scan.header.emitter !== o.emitter || scan.header.chain !== o.chain) {
      throw new Error(`audit spool ${o.dir} holds chain '${scan.header.chain}' of emitter '${scan.header.emitter}', not '${o.chain}' of '${o.emitter}'`);
    }
    if (scan.broken !== null) {
      throw new Error(`audit spool ${lastPath}: ${scan.broken}; this is not a torn write: run 'enclave audit verify ${o.dir}' and investigate before restarting`);
    }
    const fh = await open(lastPath, segmentFlags(o.acknowledge));
    let repaired = 0;
    try {
      if (scan.goodBytes < buf.length) {
        repaired = buf.length - scan.goodBytes;
        const aside = join(o.dir, `${lastName}.${Date.now()}.torn`);
        await writeFile(aside, buf.subarray(scan.goodBytes), { mode: 0o600 });
        await fh.truncate(scan.goodBytes);
        await fh.datasync();
        o.log?.warn({ segment: lastPath, bytes: repaired, why: scan.tornReason, keptIn: aside }, "cut a torn tail off the audit spool");
      }
    } catch (e) {
      await fh.close().catch(() => undefined);
      throw e;
    }
    const spool = new Spool(o, { name: lastName, fh, size: scan.goodBytes }, sealed, scan, repaired);
    o.budget.used += scan.goodBytes + sealed.reduce((n, s) => n + s.size, 0);
    return spool;
  }

  /** Is there a record after the last checkpoint (appended, durable or not)? */
  get uncheckpointed(): boolean {
    return this.lastKind === "record";
  }

  /** Next seq and the hash of the last durable entry. */
  get durableTail(): { nextSeq: number; lastHash: string } {
    return { nextSeq: this.durableNextSeq, lastHash: this.durableLastHash };
  }

  /**
   * Chains the event and resolves with its record once it is on disk. `admitted`: the
   * request was admitted against the budget (its space is reserved), so the budget is
   * not checked again.
   */
  append(event: AuditEvent, admitted = false): Promise<AuditRecord> {
    const refused = this.refusal();
    if (refused) return Promise.reject(refused);
    const built = buildRecord(event, {
      id: randomUUID(), seq: this.nextSeq, time: this.clock.now(), emitter: this.o.emitter, chain: this.o.chain, prevHash: this.lastHash,
    });
    if (!built.ok) return Promise.reject(new Error(`invalid audit event: ${built.error}`));
    // Keys are in sorted order, so JSON.stringify gives the canonical form. The stored JSON need
    // not be canonical (verifiers re-canonicalise): the frame appends the hash instead of serialising twice.
    const { hash, bytes } = this.frames.stageRecord(JSON.stringify(built.record));
    if (bytes > this.o.maxRecordBytes) {
      return Promise.reject(new Error(`audit record of ${bytes} bytes exceeds maxRecordBytes ${this.o.maxRecordBytes}`));
    }
    if (!admitted && this.o.budget.policy === "fail-closed" && !fits(this.o.budget, bytes)) {
      return Promise.reject(new SpoolFullError("the audit spool's disk budget is used up"));
    }
    const record = built.record as AuditRecord;
    record.hash = hash;
    return this.enqueue(bytes, record.seq, hash, "record", record) as Promise<AuditRecord>;
  }

  /** Signs everything so far (always allowed: checkpoints are small and what proves a chain whole). */
  appendCheckpoint(signer: CheckpointSigner): Promise<AuditCheckpoint> {
    const refused = this.refusal();
    if (refused) return Promise.reject(refused);
    const c = buildCheckpoint({ seq: this.nextSeq, prevHash: this.lastHash, emitter: this.o.emitter, chain: this.o.chain, time: new Date() }, signer);
    return this.enqueue(this.frames.stageFrame(encodeFrame(canonicalJson(c))), c.seq, c.hash, "checkpoint", c) as Promise<AuditCheckpoint>;
  }

  /** Segments in chain order; the last one is active. */
  segments(): SegmentInfo[] {
    return [...this.sealed.map((s) => ({ ...s, sealed: true })), { name: this.active.name, size: this.active.size, sealed: false }];
  }

  /** Calls `f` whenever more entries became durable. */
  onDurable(f: () => void): () => void {
    this.listeners.add(f);
    return () => this.listeners.delete(f);
  }

  /** Deletes the sealed segments that come before `segment` (they were shipped and acknowledged). */
  async deleteBefore(segment: string): Promise<number> {
    let deleted = 0;
    while (this.sealed.length > 0 && this.sealed[0]!.name < segment) {
      const s = this.sealed[0]!;
      await rm(join(this.o.dir, s.name), { force: true });
      this.sealed.shift();
      this.o.budget.used -= s.size;
      deleted++;
    }
    return deleted;
  }

  /** Waits for what was appended, then closes. Appends after this are refused. */
  async close(): Promise<void> {
    if (this.closed) return;
    this.closed = true;
    this.cancelTimers();
    // Closed: every batch is due at once.
    while (this.flushing || this.batch.length > 0) {
      if (!this.writing && this.batch.length > 0) this.startFlush();
      await this.flushing;
    }
    while (this.syncing) await this.syncing;
    await this.active.fh.close();
  }

  private refusal(): Error | null {
    if (this.closed) return new Error(`audit spool ${this.o.dir} is closed`);
    if (this.broken) return new Error(`audit spool ${this.o.dir} cannot be written: ${this.broken.message}`);
    if (this.o.budget.pending > MAX_PENDING_BYTES) return new SpoolFullError("the audit spool is not keeping up with appends");
    return null;
  }

  /** Commits the staged frame of `bytes` to the batch. */
  private enqueue(bytes: number, seq: number, hash: string, kind: EntryKind, value: AuditRecord | AuditCheckpoint): Promise<AuditRecord | AuditCheckpoint> {
    this.nextSeq = seq + 1;
    this.lastHash = hash;
    this.lastKind = kind;
    this.frames.commit(bytes);
    this.o.budget.pending += bytes;
    return new Promise((resolve, reject) => {
      this.batch.push({ seq, hash, kind, value, resolve, reject });
      const now = performance.now();
      const tau = Math.max(10, 10 * this.o.groupCommit.maxDelayMs);
      this.rate = this.rate * Math.exp(-(now - this.lastAppendAt) / tau) + 1 / tau;
      this.lastAppendAt = now;
      if (this.batch.length === 1) this.batchSince = now;
      this.schedule();
    });
  }

  /**
   * Starts writing the batch once it is due, else sets a timer for when it will be. Appends
   * check too: a timer cannot fire while the event loop is busy appending, and a busy spool's
   * batch started mid-burst is written while the rest of the burst is still being appended.
   * While a write is in flight the batch waits for it.
   */
  private schedule(): void {
    if (this.writing || this.closed || this.batch.length === 0) return;
    // `written` mode writes without a window (into the page cache); its group commit is of the fdatasyncs.
    const windowed = !this.ackWritten && this.busy();
    const wait = windowed ? this.dueIn(this.batchSince, this.lastWriteAt, performance.now()) : 0;
    // A busy spool's batch whose window is over is written at once, overlapping the rest of this turn.
    if (this.frames.length >= this.o.groupCommit.maxBytes || (windowed && wait <= 0)) this.startFlush();
    // Otherwise at the end of this event-loop turn, so the records of every request the turn
    // handled share one write (under load a turn handles dozens), at the cost of microseconds.
    else if (wait <= 0) this.immediate ??= setImmediate(() => {
      this.immediate = null;
      if (!this.writing && this.batch.length > 0) this.startFlush();
    });
    else this.timer ??= setTimeout(() => {
      this.timer = null;
      this.schedule();
    }, wait);
  }

  /**
   * Busy: appends come fast enough that a window would gather several (four or more at the
   * recent rate). A spool that is not busy writes each batch at once (a window would only
   * add its wait: there is nothing to gather); a busy one writes at most once per window.
   */
  private busy(): boolean {
    return this.rate * this.o.groupCommit.maxDelayMs >= 4;
  }

  /**
   * Group commit: how long until a batch whose first entry came at `since` is due, the last
   * write (or sync) having started at `last`. At once when none started in the last
   * `maxDelayMs`, else when `maxDelayMs` has passed since that one, and never later than
   * `maxDelayMs` after its first entry: at most one write per window, fewer, fuller batches.
   */
  private dueIn(since: number, last: number, now: number): number {
    if (this.closed) return 0;
    const d = this.o.groupCommit.maxDelayMs;
    return Math.min(since + d, Math.max(since, last + d)) - now;
  }

  private cancelTimers(): void {
    if (this.timer !== null) clearTimeout(this.timer);
    this.timer = null;
    if (this.immediate !== null) clearImmediate(this.immediate);
    this.immediate = null;
  }

  private startFlush(): void {
    this.cancelTimers();
    this.writing = true;
    const f: Promise<void> = this.flushLoop().finally(() => {
      if (this.flushing === f) this.flushing = null;
    });
    this.flushing = f;
  }

  /**
   * Writes batches until none is waiting. `writing` is cleared in the same step that resolves
   * the last batch's appends (no await in between), so their callers' next appends start the
   * next batch themselves once it is due, instead of all waiting for a timer.
   */
  private async flushLoop(): Promise<void> {
    try {
      while (this.batch.length > 0) {
        if (this.broken) {
          const refused = new Error(`audit spool ${this.o.dir} cannot be written: ${this.broken.message}`);
          this.o.budget.pending -= this.frames.length;
          this.frames.clear();
          for (const p of this.batch.splice(0)) p.reject(refused);
          break;
        }
        // Collected while the previous write ran; not due yet: the timer (or an append) takes it.
        if (!this.ackWritten && this.busy() && this.frames.length < this.o.groupCommit.maxBytes && this.dueIn(this.batchSince, this.lastWriteAt, performance.now()) > 0) break;
        const b = this.batch;
        this.lastWriteAt = performance.now();
        const buf = this.frames.take();
        const bytes = buf.length;
        this.batch = [];
        try {
          // Durable when it returns (O_DSYNC): one synchronous write per batch. `written` mode: in the page cache.
          if (this.ackWritten) writeAllSync(this.active.fh.fd, buf, this.written);
          else await writeAll(this.active.fh, buf, this.written);
        } catch (e) {
          await this.fail(b, bytes, e as Error);
          continue;
        } finally {
          this.frames.release();
        }
        this.written += bytes;
        this.o.budget.pending -= bytes;
        this.o.budget.used += bytes;
        const last = b[b.length - 1]!;
        this.acked = { nextSeq: last.seq + 1, lastHash: last.hash, lastKind: last.kind };
        if (this.ackWritten) {
          const entries = (this.unsynced?.entries ?? 0) + b.length;
          const since = this.unsynced?.since ?? performance.now();
          this.unsynced = { ...this.acked, size: this.written, entries, since };
          this.startSync();
        } else {
          this.madeDurable({ ...this.acked, size: this.written, entries: b.length });
        }
        for (const p of b) p.resolve(p.value);
        if (this.written >= this.o.segmentBytes) {
          // A segment is sealed only once all of it is durable.
          while (this.syncing) await this.syncing;
          if (this.broken) continue;
          try {
            await this.rotate();
          } catch (e) {
            // The old segment stays active and keeps growing; the next rotation tries again.
            this.o.log?.error({ dir: this.o.dir, err: (e as Error).message }, "audit segment rotation failed");
          }
        }
      }
    } finally {
      this.writing = false;
      this.schedule();
    }
  }

  private startSync(): void {
    if (this.syncing) return;
    this.syncing = this.syncLoop().finally(() => {
      this.syncing = null;
      // Written after the loop saw nothing left, before this step: a loop of its own.
      if (this.unsynced !== null && !this.broken) this.startSync();
    });
  }

  /**
   * `written` mode: fdatasyncs until everything written is durable, one at a time, each due
   * as a batch is (`dueIn`): group commit of the syncs, at most one per `maxDelayMs`.
   */
  private async syncLoop(): Promise<void> {
    // Not before the answers that the batch just written releases have gone out: dispatching
    // an fdatasync wakes a threadpool thread, and on a busy core that thread runs (and
    // starts the disk write) ahead of them.
    await new Promise((r) => setImmediate(r));
    while (this.unsynced !== null) {
      const due = this.dueIn(this.unsynced.since, this.lastSyncAt, performance.now());
      if (due > 0) await new Promise((r) => setTimeout(r, due));
      this.lastSyncAt = performance.now();
      const t = this.unsynced;
      this.unsynced = null;
      try {
        await this.active.fh.datasync();
      } catch (e) {
        // Acknowledged records may not be on disk: say so loudly, and accept nothing more.
        this.broken = e as Error;
        this.o.log?.error({ dir: this.o.dir, err: (e as Error).message, records: t.entries }, "audit spool fdatasync failed: records acknowledged as written may be lost on a power cut");
        return;
      }
      this.madeDurable(t);
    }
  }

  private madeDurable(t: Tail & { size: number; entries: number }): void {
    this.active.size = t.size;
    this.durableNextSeq = t.nextSeq;
    this.durableLastHash = t.lastHash;
    this.durableLastKind = t.lastKind;
    this.appended += t.entries;
    this.commits++;
    for (const f of this.listeners) f();
  }

  /**
   * Nothing of a failed batch is acknowledged, and everything queued behind it chains from
   * it: all are refused, the file is cut back to its durable size and the chain resumes
   * from the last durable entry. If even that fails the spool refuses every later append.
   */
  private async fail(b: Pending[], bytes: number, e: Error): Promise<void> {
    const queued = this.batch;
    this.batch = [];
    this.o.budget.pending -= bytes + this.frames.length;
    this.frames.clear();
    this.nextSeq = this.acked.nextSeq;
    this.lastHash = this.acked.lastHash;
    this.lastKind = this.acked.lastKind;
    try {
      await this.active.fh.truncate(this.written);
    } catch (t) {
      this.broken = t as Error;
    }
    this.o.log?.error({ dir: this.o.dir, err: e.message, refused: b.length + queued.length }, "audit spool write failed");
    const err = new Error(`audit spool write failed: ${e.message}`);
    for (const p of [...b, ...queued]) p.reject(err);
  }

  /** Seals the active segment and starts the next, whose header says where the chain stands. */
  private async rotate(): Promise<void> {
    const header: SegmentHeader = {
      kind: "segment", version: 1, emitter: this.o.emitter, chain: this.o.chain,
      firstSeq: this.durableNextSeq, prevHash: this.durableLastHash, created: new Date().toISOString(),
    };
    const { name, size } = await createSegment(this.o.dir, header);
    const fh = await open(join(this.o.dir, name), segmentFlags(this.o.acknowledge));
    const old = this.active;
    this.active = { name, fh, size };
    this.written = size;
    this.sealed.push({ name: old.name, size: old.size });
    this.o.budget.used += size;
    await old.fh.close().catch(() => undefined);
  }
}

/**
 * The active segment is written with O_DSYNC: each write returns once its data is on disk
 * (the same guarantee as write + fdatasync, in one request), so a batch becomes durable in
 * the thread pool without the event loop having to be free to ask for the sync. In
 * `written` mode plain writes, with fdatasync calls behind them.
 */
const segmentFlags = (ack: SpoolAcknowledge | undefined) => (ack === "written" ? fsConstants.O_RDWR : fsConstants.O_RDWR | fsConstants.O_DSYNC);

/** Writes the header into a temporary file, fsyncs it and renames it into place, so a segment file always starts whole. */
async function createSegment(dir: string, h: SegmentHeader): Promise<{ name: string; size: number }> {
  const name = segmentName(h.firstSeq);
  const tmp = join(dir, `${name}.tmp`);
  const frame = encodeFrame(canonicalJson(h));
  const fh = await open(tmp, "wx", 0o600);
  try {
    await writeAll(fh, frame, 0);
    await fh.datasync();
  } finally {
    await fh.close();
  }
  await rename(tmp, join(dir, name));
  await syncDir(dir);
  return { name, size: frame.length };
}

async function syncDir(dir: string): Promise<void> {
  const d = await open(dir, "r");
  try {
    await d.sync();
  } finally {
    await d.close();
  }
}

/**
 * `written` mode's write: into the page cache, on the event loop. A few microseconds for a
 * batch, less than handing it to the thread pool and being woken when it is done.
 */
function writeAllSync(fd: number, buf: Buffer, position: number): void {
  let off = 0;
  while (off < buf.length) off += writeSync(fd, buf, off, buf.length - off, position + off);
}

async function writeAll(fh: FileHandle, buf: Buffer, position: number): Promise<void> {
  let off = 0;
  while (off < buf.length) {
    const { bytesWritten } = await fh.write(buf, off, buf.length - off, position + off);
    off += bytesWritten;
  }
}

/** ISO 8601 time, formatted once per millisecond (a busy spool appends many records in one). */
class IsoClock {
  private ms = -1;
  private iso = "";
  now(): string {
    const ms = Date.now();
    if (ms !== this.ms) {
      this.ms = ms;
      this.iso = new Date(ms).toISOString();
    }
    return this.iso;
  }
}

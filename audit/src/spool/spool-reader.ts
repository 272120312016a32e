import { open, type FileHandle } from "node:fs/promises";
import { join } from "node:path";
import { decodeFrame } from "./frame.js";
import type { EntryKind } from "./scan-segment.js";
import type { SegmentInfo } from "./spool.js";

/** A place in a spool: a segment and a byte offset in it (just after an entry). */
export interface SpoolPosition {
  segment: string;
  offset: number;
}

/** One chain entry as stored, with what a shipper needs to label it. */
export interface SpooledEntry {
  /** The stored JSON, exactly. */
  json: string;
  kind: EntryKind;
  seq: number;
  time: string;
  emitter: string;
  chain: string;
  /** Just after this entry. */
  end: SpoolPosition;
}

export interface ReadSource {
  dir: string;
  segments(): SegmentInfo[];
}

const NL = 0x0a;
const MIN_CHUNK = 64 * 1024;

/**
 * Reads durable entries from a position onwards (segment headers are skipped). Only what
 * the spool reports durable is read, so a batch still being written is never seen half.
 */
export class SpoolReader {
  private fh: FileHandle | null = null;
  private fhName = "";

  constructor(private readonly src: ReadSource) {}

  /** Where reading starts when nothing was shipped yet: the oldest segment kept. */
  start(): SpoolPosition {
    return { segment: this.src.segments()[0]!.name, offset: 0 };
  }

  /** `atEnd`: everything durable was read (the batch was not cut short by the limits). */
  async read(from: SpoolPosition, maxEntries: number, maxBytes: number): Promise<{ entries: SpooledEntry[]; next: SpoolPosition; atEnd: boolean }> {
    const segs = this.src.segments();
    let i = segs.findIndex((s) => s.name >= from.segment);
    if (i < 0) i = segs.length - 1;
    let pos: SpoolPosition = segs[i]!.name === from.segment ? { ...from } : { segment: segs[i]!.name, offset: 0 };
    const entries: SpooledEntry[] = [];
    let bytes = 0;
    let atEnd = false;
    while (entries.length < maxEntries && bytes < maxBytes) {
      const seg = segs[i]!;
      if (pos.offset >= seg.size) {
        if (i === segs.length - 1 || !seg.sealed) {
          atEnd = true;
          break;
        }
        i++;
        pos = { segment: segs[i]!.name, offset: 0 };
        continue;
      }
      const base = pos.offset;
      const chunk = await this.readLines(seg, base, Math.max(MIN_CHUNK, maxBytes - bytes));
      let at = 0;
      while (at < chunk.length && entries.length < maxEntries) {
        const nl = chunk.indexOf(NL, at);
        if (nl < 0) break;
        const line = chunk.subarray(at, nl);
        const where = `${join(this.src.dir, seg.name)} at byte ${base + at}`;
        at = nl + 1;
        const frame = decodeFrame(line);
        // Durable bytes that fail their checksum are damage, not a crash: stop rather than skip a record.
        if (!frame.ok) throw new Error(`audit spool ${where}: ${frame.reason}`);
        const o = JSON.parse(frame.json) as Record<string, unknown>;
        const end = { segment: seg.name, offset: base + at };
        if (o.kind === "segment") {
          pos = end;
          continue;
        }
        entries.push({
          json: frame.json,
          kind: o.kind === "checkpoint" ? "checkpoint" : "record",
          seq: o.seq as number,
          time: o.time as string,
          emitter: o.emitter as string,
          chain: o.chain as string,
          end,
        });
        bytes += line.length + 1;
        pos = end;
      }
    }
    return { entries, next: pos, atEnd };
  }

  async close(): Promise<void> {
    await this.fh?.close().catch(() => undefined);
    this.fh = null;
  }

  /** Whole lines from `offset`, at least one, up to about `want` bytes. */
  private async readLines(seg: SegmentInfo, offset: number, want: number): Promise<Buffer> {
    if (this.fhName !== seg.name) {
      await this.close();
      this.fh = await open(join(this.src.dir, seg.name), "r");
      this.fhName = seg.name;
    }
    let len = Math.min(want, seg.size - offset);
    for (;;) {
      const buf = Buffer.allocUnsafe(len);
      let got = 0;
      while (got < len) {
        const { bytesRead } = await this.fh!.read(buf, got, len - got, offset + got);
        if (bytesRead === 0) throw new Error(`audit spool ${join(this.src.dir, seg.name)} is shorter than its durable size`);
        got += bytesRead;
      }
      const last = buf.lastIndexOf(NL);
      if (last >= 0) return buf.subarray(0, last + 1);
      if (offset + len >= seg.size) throw new Error(`audit spool ${join(this.src.dir, seg.name)}: no line end before byte ${seg.size}`);
      len = Math.min(len * 2, seg.size - offset);
    }
  }
}

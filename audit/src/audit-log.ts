import { randomUUID } from "node:crypto";
import { mkdir, open, type FileHandle } from "node:fs/promises";
import { dirname } from "node:path";
import { AuditRecord, GENESIS_HASH, type AuditEvent } from "@enclave/contracts";
import { canonicalJson } from "./canonical-json.js";
import { recordHash } from "./record-hash.js";

const NEWLINE = 0x0a;
const TAIL_CHUNK = 64 * 1024;
const RecordWithoutHash = AuditRecord.omit({ hash: true });

/**
 * One emitter's hash chain in a JSON-lines file. Appends are serialised through a
 * single promise chain, so seq order is file order and a record's prevHash is the
 * hash of the line just before it. The chain state only advances once a line is
 * written; a failed write is cut back off so the next line starts clean.
 */
export class AuditLog {
  private tail: Promise<unknown> = Promise.resolve();
  private closed = false;

  private constructor(
    private readonly fh: FileHandle,
    readonly file: string,
    readonly emitter: string,
    private nextSeq: number,
    private lastHash: string,
    private size: number,
    /** Bytes of a torn tail cut off when the file was opened (0 when it was clean). */
    readonly repairedBytes: number,
  ) {}

  /**
   * Opens (creating directories and a 0600 file as needed) and recovers the chain
   * from the last complete line. A torn tail (bytes after the last newline, or a
   * last line that is not JSON, as a crash can leave) is cut off. A last line that
   * is JSON but not a record of this emitter is refused: that is not a torn write.
   */
  static async open(file: string, emitter: string): Promise<AuditLog> {
    await mkdir(dirname(file), { recursive: true, mode: 0o700 });
    const fh = await open(file, "a+", 0o600);
    try {
      const { size } = await fh.stat();
      const tail = await recoverTail(fh, size, file);
      if (tail.keep < size) await fh.truncate(tail.keep);
      let nextSeq = 0;
      let lastHash = GENESIS_HASH;
      if (tail.last) {
        if (tail.last.emitter !== emitter) {
          throw new Error(`audit file ${file} holds the chain of emitter '${tail.last.emitter}', not '${emitter}'`);
        }
        nextSeq = tail.last.seq + 1;
        lastHash = tail.last.hash;
      }
      return new AuditLog(fh, file, emitter, nextSeq, lastHash, tail.keep, size - tail.keep);
    } catch (e) {
      await fh.close().catch(() => undefined);
      throw e;
    }
  }

  /** Resolves with the record once its line is written; rejects (writing nothing) if the event is invalid or the write fails. */
  append(event: AuditEvent): Promise<AuditRecord> {
    if (this.closed) return Promise.reject(new Error(`audit log ${this.file} is closed`));
    const p = this.tail.then(() => this.write(event));
    this.tail = p.catch(() => undefined);
    return p;
  }

  /** Waits for pending appends, then closes the file. */
  async close(): Promise<void> {
    if (this.closed) return;
    this.closed = true;
    await this.tail;
    await this.fh.close();
  }

  private async write(event: AuditEvent): Promise<AuditRecord> {
    const parsed = RecordWithoutHash.safeParse({
      ...event,
      id: randomUUID(),
      seq: this.nextSeq,
      time: new Date().toISOString(),
      emitter: this.emitter,
      prevHash: this.lastHash,
    });
    if (!parsed.success) {
      const issue = parsed.error.issues[0];
      throw new Error(`invalid audit event: ${issue ? `${issue.path.join(".")}: ${issue.message}` : "rejected"}`);
    }
    const record: AuditRecord = { ...parsed.data, hash: recordHash(parsed.data) };
    const bytes = Buffer.from(canonicalJson(record) + "\n", "utf8");
    try {
      let off = 0;
      while (off < bytes.length) {
        const { bytesWritten } = await this.fh.write(bytes, off, bytes.length - off);
        off += bytesWritten;
      }
    } catch (e) {
      // A partial line would tear the chain for every later record: cut it away.
      await this.fh.truncate(this.size).catch(() => undefined);
      throw e;
    }
    this.size += bytes.length;
    this.nextSeq = record.seq + 1;
    this.lastHash = record.hash;
    return record;
  }
}

interface Tail {
  /** Bytes to keep. */
  keep: number;
  /** The last record kept, or null for an empty chain. */
  last: AuditRecord | null;
}

/** Reads backwards from the end just far enough to see the last complete lines. */
async function recoverTail(fh: FileHandle, size: number, file: string): Promise<Tail> {
  if (size === 0) return { keep: 0, last: null };
  let start = size;
  let buf = Buffer.alloc(0);
  // Up to three line ends: a torn fragment, one unparsable line, the good line before it.
  while (start > 0 && countNewlines(buf) < 4) {
    const len = Math.min(TAIL_CHUNK, start);
    start -= len;
    const chunk = Buffer.alloc(len);
    await readFully(fh, chunk, start);
    buf = Buffer.concat([chunk, buf]);
  }
  // Work in file offsets; buf covers [start, size).
  let keep = size;
  if (buf[buf.length - 1] !== NEWLINE) {
    const nl = buf.lastIndexOf(NEWLINE);
    keep = nl < 0 ? start : start + nl + 1;
  }
  let cutUnparsable = false;
  for (;;) {
    if (keep === 0) return { keep, last: null };
    const lineEnd = keep - 1 - start; // index of the newline ending the last kept line
    // A negative offset would search from the end of the buffer, so an empty first line needs its own case.
    const prevNl = lineEnd > 0 ? buf.lastIndexOf(NEWLINE, lineEnd - 1) : -1;
    const lineStart = prevNl < 0 ? 0 : prevNl + 1;
    if (prevNl < 0 && start > 0) throw new Error(`audit file ${file}: last line longer than the recovery window`);
    const text = buf.subarray(lineStart, lineEnd).toString("utf8");
    let raw: unknown;
    try {
      raw = JSON.parse(text);
    } catch {
      if (cutUnparsable) throw new Error(`audit file ${file}: the last two lines are unreadable; refusing to cut more`);
      cutUnparsable = true;
      keep = start + lineStart;
      continue;
    }
    const r = AuditRecord.safeParse(raw);
    if (!r.success) throw new Error(`audit file ${file}: the last line is not an audit record; refusing to continue the chain`);
    return { keep, last: r.data };
  }
}

function countNewlines(b: Buffer): number {
  let n = 0;
  for (let i = b.indexOf(NEWLINE); i >= 0 && n < 4; i = b.indexOf(NEWLINE, i + 1)) n++;
  return n;
}

async function readFully(fh: FileHandle, into: Buffer, position: number): Promise<void> {
  let off = 0;
  while (off < into.length) {
    const { bytesRead } = await fh.read(into, off, into.length - off, position + off);
    if (bytesRead === 0) throw new Error("audit file shrank while it was being opened");
    off += bytesRead;
  }
}

import { hash } from "node:crypto";
import { crc32 } from "node:zlib";

/** `,"hash":"` + 64 hex digits + `"}` + LF, which replaces a record's closing brace. */
const HASH_TAIL_BYTES = 9 + 64 + 3;
const SPACE = 0x20;
const HEX = Buffer.from("0123456789abcdef", "latin1");

/**
 * The frames of one group-commit batch (see frame.ts for the format), in one buffer written
 * with one `write`. A record is encoded to UTF-8 once, straight into the buffer; its hash and
 * checksum are computed over those bytes in place. Writing first and committing after lets
 * the caller refuse a frame (too large, over budget) once it knows its size.
 */
export class BatchBuffer {
  private buf: Buffer;
  private len = 0;
  /** The buffer whose bytes were taken and are being written. */
  private taken: Buffer | null = null;
  private spare: Buffer | null = null;

  /** `capacity`: what a typical batch needs; a larger one grows the buffer for as long as it lasts. */
  constructor(private readonly capacity: number) {
    this.buf = Buffer.allocUnsafe(capacity);
  }

  /** Bytes committed so far. */
  get length(): number {
    return this.len;
  }

  /**
   * Writes the frame of a record after the committed bytes without committing it.
   * `canonical` is the record's canonical JSON without `hash`; the frame's JSON is the same
   * with `"hash"` appended last, and the hash is sha256 of `canonical`'s UTF-8 bytes (which
   * are unambiguous: JSON.stringify escapes lone surrogates).
   */
  stageRecord(canonical: string): { hash: string; bytes: number } {
    this.ensure(9 + 3 * canonical.length + HASH_TAIL_BYTES);
    const start = this.len;
    const body = start + 9;
    const n = this.buf.write(canonical, body, "utf8");
    const h = hash("sha256", this.buf.subarray(body, body + n), "hex");
    const end = body + n - 1 + this.buf.write(`,"hash":"${h}"}\n`, body + n - 1, "latin1");
    this.writeCrc(start, end - 1);
    return { hash: h, bytes: end - start };
  }

  /** Writes a whole frame (an encoded checkpoint) after the committed bytes without committing it. */
  stageFrame(frame: Buffer): number {
    this.ensure(frame.length);
    frame.copy(this.buf, this.len);
    return frame.length;
  }

  /** Makes the staged frame of `bytes` part of the batch. */
  commit(bytes: number): void {
    this.len += bytes;
  }

  /**
   * The batch's bytes; the buffer starts over empty. The bytes stay valid until `release`
   * (after they were written), when their memory may be reused.
   */
  take(): Buffer {
    const out = this.buf.subarray(0, this.len);
    this.taken = this.buf;
    this.buf = this.spare ?? Buffer.allocUnsafe(this.capacity);
    this.spare = null;
    this.len = 0;
    return out;
  }

  release(): void {
    // Keep one spare of the usual size; a buffer grown for a burst goes to the collector.
    if (this.taken !== null && this.taken.length <= 2 * this.capacity) this.spare = this.taken;
    this.taken = null;
  }

  /** Drops what was committed (a failed batch: nothing of it or behind it is kept). */
  clear(): void {
    this.len = 0;
  }

  private ensure(more: number): void {
    if (this.len + more <= this.buf.length) return;
    const grown = Buffer.allocUnsafe(Math.max(2 * this.buf.length, this.len + more));
    this.buf.copy(grown, 0, 0, this.len);
    this.buf = grown;
  }

  /** Fills `CRC SP` before the JSON in [start + 9, jsonEnd). */
  private writeCrc(start: number, jsonEnd: number): void {
    let crc = crc32(this.buf.subarray(start + 9, jsonEnd));
    // Digit by digit: formatting a string and writing it costs more than the checksum itself.
    for (let i = start + 7; i >= start; i--) {
      this.buf[i] = HEX[crc & 15]!;
      crc >>>= 4;
    }
    this.buf[start + 8] = SPACE;
  }
}

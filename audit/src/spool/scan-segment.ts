import { decodeFrame } from "./frame.js";
import { SegmentHeader } from "./segment-header.js";

export type EntryKind = "record" | "checkpoint";

export interface SegmentScan {
  header: SegmentHeader | null;
  /** Length of the prefix made of whole, valid frames that continue the chain. */
  goodBytes: number;
  entries: number;
  nextSeq: number;
  lastHash: string;
  lastKind: EntryKind | null;
  /** Why the bytes after `goodBytes` are not usable: a torn or unreadable tail (a crash). */
  tornReason: string | null;
  /**
   * A whole, checksummed frame that does not continue the chain. A crash cannot produce
   * that, so recovery must not cut it away: the caller refuses to go on.
   */
  broken: string | null;
}

const NL = 0x0a;

/**
 * Reads a segment as written by the spool: a header frame, then entries whose seq and
 * prevHash continue from it. Pure: the caller decides what to do with a torn tail.
 */
export function scanSegment(buf: Buffer): SegmentScan {
  const scan: SegmentScan = { header: null, goodBytes: 0, entries: 0, nextSeq: 0, lastHash: "", lastKind: null, tornReason: null, broken: null };
  let at = 0;
  while (at < buf.length) {
    const nl = buf.indexOf(NL, at);
    if (nl < 0) {
      scan.tornReason = `${buf.length - at} bytes after the last complete frame`;
      break;
    }
    const frame = decodeFrame(buf.subarray(at, nl));
    if (!frame.ok) {
      scan.tornReason = `${frame.reason} at byte ${at}`;
      break;
    }
    let o: Record<string, unknown>;
    try {
      o = JSON.parse(frame.json) as Record<string, unknown>;
    } catch {
      scan.tornReason = `unreadable JSON at byte ${at}`;
      break;
    }
    if (scan.header === null) {
      const h = SegmentHeader.safeParse(o);
      if (!h.success) {
        scan.broken = "the first frame is not a segment header";
        break;
      }
      scan.header = h.data;
      scan.nextSeq = h.data.firstSeq;
      scan.lastHash = h.data.prevHash;
    } else {
      if (typeof o.seq !== "number" || typeof o.prevHash !== "string" || typeof o.hash !== "string") {
        scan.broken = `the frame at byte ${at} is not a chain entry`;
        break;
      }
      if (o.seq !== scan.nextSeq || o.prevHash !== scan.lastHash) {
        scan.broken = `the entry at byte ${at} (seq ${o.seq}) does not continue the chain (expected seq ${scan.nextSeq})`;
        break;
      }
      scan.entries++;
      scan.nextSeq = o.seq + 1;
      scan.lastHash = o.hash;
      scan.lastKind = o.kind === "checkpoint" ? "checkpoint" : "record";
    }
    at = nl + 1;
    scan.goodBytes = at;
  }
  return scan;
}

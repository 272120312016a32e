import { crc32 } from "node:zlib";

/**
 * One spool entry on disk: `CRC SP JSON LF`, where CRC is the CRC-32 of the JSON's UTF-8
 * bytes as 8 lower-case hex digits. JSON never holds a raw LF, so lines frame entries; the
 * checksum tells a torn or rotted line from a whole one without trusting its content.
 */
export function encodeFrame(json: string): Buffer {
  // One UTF-8 encoding and one allocation: the checksum is filled into the placeholder afterwards.
  const out = Buffer.from(`00000000 ${json}\n`, "utf8");
  out.write(crcHex(out.subarray(9, out.length - 1)), 0, "latin1");
  return out;
}

export type DecodedFrame = { ok: true; json: string } | { ok: false; reason: string };

/** A line without its LF (bytes or text). */
export function decodeFrame(line: Buffer | string): DecodedFrame {
  const buf = typeof line === "string" ? Buffer.from(line, "utf8") : line;
  if (buf.length < 10 || buf[8] !== 0x20) return { ok: false, reason: "not a spool frame" };
  const want = buf.toString("latin1", 0, 8);
  if (!/^[0-9a-f]{8}$/.test(want)) return { ok: false, reason: "not a spool frame" };
  const body = buf.subarray(9);
  if (crcHex(body) !== want) return { ok: false, reason: "frame checksum mismatch (torn or altered line)" };
  return { ok: true, json: body.toString("utf8") };
}

/** Does this text look like a spool frame (checksum, space, JSON object)? */
export function looksLikeFrame(text: string): boolean {
  return /^[0-9a-f]{8} \{/.test(text);
}

function crcHex(b: Uint8Array): string {
  return crc32(b).toString(16).padStart(8, "0");
}

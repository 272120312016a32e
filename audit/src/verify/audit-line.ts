import { decodeFrame, looksLikeFrame } from "../spool/frame.js";
import { SegmentHeader } from "../spool/segment-header.js";

export type DecodedLine =
  | { kind: "blank" }
  | { kind: "header"; header: SegmentHeader }
  | { kind: "entry"; value: unknown }
  | { kind: "bad"; message: string };

/**
 * One stored line, whatever wrote it: a spool frame (`CRC JSON`), a bare JSON record (the
 * single-file log), or a syslog message as a receiver stored it (`%rawmsg%`: RFC 5424 with
 * the JSON entry as MSG). Pure.
 */
export function decodeAuditLine(text: string): DecodedLine {
  if (text.trim() === "") return { kind: "blank" };
  let json: string | null;
  if (looksLikeFrame(text)) {
    const f = decodeFrame(text);
    if (!f.ok) return { kind: "bad", message: f.reason };
    json = f.json;
  } else if (text.startsWith("{")) {
    json = text;
  } else {
    json = syslogBody(text);
    if (json === null) return { kind: "bad", message: "not an audit line (a spool frame, a JSON record or an RFC 5424 message with a JSON body)" };
  }
  let value: unknown;
  try {
    value = JSON.parse(json);
  } catch {
    return { kind: "bad", message: "not valid JSON (torn or altered line)" };
  }
  if (value !== null && typeof value === "object" && (value as { kind?: unknown }).kind === "segment") {
    const h = SegmentHeader.safeParse(value);
    return h.success ? { kind: "header", header: h.data } : { kind: "bad", message: "damaged segment header" };
  }
  return { kind: "entry", value };
}

const HEADER = /^<\d{1,3}>\d{1,2} \S+ \S+ \S+ \S+ \S+ /;

/** The MSG of an RFC 5424 message: after the BOM when there is one, else after the structured data. */
export function syslogBody(text: string): string | null {
  const bom = text.indexOf("\uFEFF");
  if (bom >= 0) return text.slice(bom + 1);
  const m = HEADER.exec(text);
  if (!m) return null;
  let i = m[0].length;
  if (text[i] === "-") i++;
  else {
    while (text[i] === "[") {
      let quoted = false;
      for (i++; i < text.length; i++) {
        const c = text[i];
        if (quoted && c === "\\") i++;
        else if (c === '"') quoted = !quoted;
        else if (c === "]" && !quoted) break;
      }
      i++;
    }
  }
  if (text[i] === " ") i++;
  const msg = text.slice(i);
  return msg.startsWith("{") ? msg : null;
}

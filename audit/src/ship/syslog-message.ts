import type { SpooledEntry } from "../spool/spool-reader.js";

/** authpriv.info: security/authorization messages, kept apart from ordinary logs by most receivers. */
const PRI = "<86>";
/** RFC 5612's enterprise number for documentation; the SD-ID names our parameters. */
export const SD_ID = "enclave-audit@32473";
const BOM = "\uFEFF";

export interface SyslogHeader {
  hostname: string;
  appName: string;
  procId: string;
}

/**
 * An RFC 5424 message for one entry: the JSON entry as MSG (UTF-8 with BOM), and the
 * fields a SIEM indexes on without parsing the body as structured data.
 * `<86>1 TIME HOST APP PROCID audit-record [enclave-audit@32473 emitter=".." chain=".." seq=".."] BOM{json}`
 */
export function syslogMessage(e: SpooledEntry, h: SyslogHeader): string {
  const sd = `[${SD_ID} emitter="${sdEscape(e.emitter)}" chain="${sdEscape(e.chain)}" seq="${e.seq}"]`;
  return `${PRI}1 ${e.time} ${h.hostname} ${h.appName} ${h.procId} audit-${e.kind} ${sd} ${BOM}${wireJson(e.json)}`;
}

/** RFC 5425 octet counting: `MSG-LEN SP SYSLOG-MSG`. */
export function octetCounted(msg: string): string {
  return `${Buffer.byteLength(msg, "utf8")} ${msg}`;
}

/** RFC 5424 §6.3.3: `"`, `\` and `]` are escaped in PARAM-VALUE. */
export function sdEscape(v: string): string {
  return v.replace(/["\\\]]/g, (c) => "\\" + c);
}

/**
 * Receivers rewrite control characters (rsyslog stores DEL as `#177`), which would break
 * the stored record's hash. JSON already escapes C0 controls; escape DEL and C1 too:
 * the parsed value, and so the hash, is unchanged.
 */
export function wireJson(json: string): string {
  return json.replace(/[\u007f-\u009f]/g, (c) => "\\u" + c.charCodeAt(0).toString(16).padStart(4, "0"));
}

/** A host name RFC 5424 accepts: printable ASCII without spaces, at most 255 characters, or `-`. */
export function syslogHostname(name: string): string {
  const clean = name.replace(/[^!-~]/g, "").slice(0, 255);
  return clean === "" ? "-" : clean;
}

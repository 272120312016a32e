import type { SelEvent } from "@enclave/contracts";
import { textSeverity } from "./severity.js";

/**
 * `ipmitool sel elist` lines: `ID | MM/DD/YY | HH:MM:SS TZ | <type> <sensor> | <event> | Asserted|Deasserted [| detail]`.
 * The ID is hexadecimal without prefix (`   a` is record 10). Before the BMC clock was set
 * the date column reads `Pre-Init` and the time a raw counter. OEM records may lack the
 * direction column. An empty log prints nothing on stdout (`SEL has no entries` on stderr).
 */
export function parseSelElist(text: string, max = 32): SelEvent[] {
  const out: SelEvent[] = [];
  for (const line of text.split(/\r?\n/)) {
    const cols = line.split("|").map((c) => c.trim());
    if (cols.length < 5) continue;
    const [idHex = "", date = "", time = "", sensor = "", event = "", direction = "", detail = ""] = cols;
    if (!/^[0-9a-fA-F]{1,8}$/.test(idHex)) continue;
    const asserted = !/^deasserted$/i.test(direction);
    const fullEvent = detail ? `${event} (${detail})` : event;
    out.push({
      id: parseInt(idHex, 16),
      time: selTime(date, time),
      sensor: sensor.slice(0, 100),
      event: fullEvent.replace(/\s+/g, " ").slice(0, 200),
      asserted,
      severity: asserted ? textSeverity(`${sensor} ${event}`) : "info",
    });
  }
  return out.slice(-max);
}

/** `11/22/26` + `06:43:44 UTC` → ms since epoch; null for `Pre-Init` and anything unreadable. */
export function selTime(date: string, time: string): number | null {
  const d = /^(\d{2})\/(\d{2})\/(\d{2}|\d{4})$/.exec(date);
  const t = /^(\d{2}):(\d{2}):(\d{2})(?:\s+(\S+))?$/.exec(time);
  if (!d?.[1] || !d[2] || !d[3] || !t?.[1] || !t[2] || !t[3]) return null;
  const [month, day, hour, minute, second] = [Number(d[1]), Number(d[2]), Number(t[1]), Number(t[2]), Number(t[3])];
  if (month < 1 || month > 12 || day < 1 || day > 31 || hour > 23 || minute > 59 || second > 60) return null;
  const year = d[3].length === 2 ? 2000 + Number(d[3]) : Number(d[3]);
  const parts = [year, month - 1, day, hour, minute, second] as const;
  const zone = t[4];
  // ipmitool prints UTC unless told otherwise; another zone name is the host's local time.
  const ms = !zone || /^(?:UTC|GMT)$/i.test(zone) ? Date.UTC(...parts) : new Date(...parts).getTime();
  return Number.isFinite(ms) ? ms : null;
}

/** `Entries          : 10` from `ipmitool sel info`. */
export function parseSelInfoEntries(text: string): number | null {
  const m = /^\s*Entries\s*:\s*(\d+)\s*$/m.exec(text);
  return m?.[1] ? Number(m[1]) : null;
}

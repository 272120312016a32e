import type { BmcSensorState } from "@enclave/contracts";

/**
 * Discrete states and event texts as ipmitool prints them, by how bad they are. Order
 * matters: "Uncorrectable ECC" must be tried before "Correctable ECC".
 */
const CRITICAL: readonly RegExp[] = [
  /\buncorrectable\b/i,
  /\b(?:upper|lower) (?:critical|non-recoverable)\b/i,
  /\bnon-?recoverable\b/i,
  /\bfailure detected\b/i,
  /\bAC lost\b/i,
  /\bpower supply (?:input )?lost\b/i,
  /\bfan (?:failure|failed)\b/i,
  /\btransition to critical\b/i,
  /\bmachine check\b/i,
  /\bfatal\b/i,
];
const WARNING: readonly RegExp[] = [
  /\bcorrectable (?:ECC|memory error)\b/i,
  /\b(?:upper|lower) non-critical\b/i,
  /\bpredictive failure\b/i,
  /\btransition to non-critical\b/i,
  /\bredundancy (?:lost|degraded)\b/i,
  /\bdegraded\b/i,
  /\bthrottl/i,
];

/** How bad a state or event text is; `info` when it names nothing known to be bad. */
export function textSeverity(text: string): "info" | "warning" | "critical" {
  if (CRITICAL.some((r) => r.test(text))) return "critical";
  if (WARNING.some((r) => r.test(text))) return "warning";
  return "info";
}

/**
 * A sensor's state from ipmitool's status column and its state text. Threshold sensors say
 * it in the status (`ok`, `nc`/`lnc`/`unc`, `cr`/`lcr`/`ucr`, `nr`/`lnr`/`unr`, `ns`); discrete
 * sensors say `ok` even while their text reads `Failure detected`, so the text decides.
 */
export function sensorState(status: string, text: string): BmcSensorState {
  const s = status.trim().toLowerCase();
  if (s === "ns" || s === "na" || /^(?:disabled|no reading)$/i.test(text.trim())) return "unavailable";
  if (["cr", "lcr", "ucr", "nr", "lnr", "unr"].includes(s)) return "critical";
  const fromText = textSeverity(text);
  if (fromText === "critical") return "critical";
  if (["nc", "lnc", "unc"].includes(s) || fromText === "warning") return "warning";
  return "nominal";
}

import type { BmcStatus, HealthThresholds } from "@enclave/contracts";

/**
 * What in the BMC's readings degrades the node: sensors in a critical state (a temperature
 * past its critical threshold, a failed PSU, a stopped fan) and critical event log records of
 * the last `selWindowMs` (uncorrectable memory ECC, a PSU failure). A BMC that cannot be read
 * says nothing about the hardware, so it is no finding.
 */
export function bmcFindings(bmc: BmcStatus | undefined, thresholds: Pick<HealthThresholds, "selWindowMs">, now: number): string[] {
  if (!bmc?.available) return [];
  const out: string[] = [];
  for (const s of bmc.sensors) {
    if (s.state !== "critical") continue;
    const reading = s.value !== null ? `${s.value}${s.unit ? ` ${s.unit}` : ""}` : s.text || "no reading";
    out.push(`${s.name} ${reading} (${s.status === "ok" ? "critical state" : s.status})`);
  }
  for (const e of bmc.selEvents) {
    if (e.severity !== "critical" || !e.asserted || e.time === null || now - e.time > thresholds.selWindowMs) continue;
    out.push(`event log #${e.id} at ${new Date(e.time).toISOString()}: ${e.sensor}: ${e.event}`);
  }
  return out;
}

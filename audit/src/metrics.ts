import { Gauge, type Registry } from "prom-client";
import type { TrailStats } from "./trail.js";

/**
 * The spool and shipping as Prometheus metrics, read from the trail's stats at scrape
 * time; the same names in every emitting process (gateway, scheduler), told apart by its
 * `component` label. Labels are region ids (one chain and one sink per region): bounded.
 */
export function registerAuditMetrics(registry: Registry, trailStats: () => TrailStats | null): void {
  const registers = [registry];
  // One snapshot serves every gauge of a scrape.
  let snapshot: { at: number; stats: TrailStats | null } | null = null;
  const stats = () => {
    if (snapshot === null || Date.now() - snapshot.at > 250) snapshot = { at: Date.now(), stats: trailStats() };
    return snapshot.stats;
  };
  const perChain = (name: string, help: string, value: (c: TrailStats["chains"][number]) => number | null) =>
    new Gauge({
      name, help, labelNames: ["region"] as const, registers,
      collect() {
        this.reset();
        for (const c of stats()?.chains ?? []) {
          const v = value(c);
          if (v !== null) this.set({ region: c.chain }, v);
        }
      },
    });
  const budget = (name: string, help: string, value: (b: TrailStats["budget"]) => number) =>
    new Gauge({
      name, help, registers,
      collect() {
        const s = stats();
        if (s) this.set(value(s.budget));
      },
    });
  budget("enclave_audit_spool_bytes", "Bytes in audit spool segment files, all chains", (b) => b.usedBytes);
  budget("enclave_audit_spool_budget_bytes", "The audit spool's disk budget", (b) => b.limitBytes);
  budget("enclave_audit_spool_budget_exhausted", "1 while a new request's record might not fit the budget (fail-closed: requests get 503)", (b) => (b.exhausted ? 1 : 0));
  budget("enclave_audit_refused_requests_total", "Requests refused because the audit spool's budget was used up", (b) => b.refused);
  perChain("enclave_audit_records_total", "Audit entries made durable since start, per chain", (c) => c.appended);
  perChain("enclave_audit_spool_syncs_total", "Synchronous writes (or fdatasyncs) that made audit entries durable since start, per chain; records_total / syncs_total is the group-commit batch size", (c) => c.commits);
  perChain("enclave_audit_backlog_records", "Audit entries not yet acknowledged by the region's sink", (c) => c.shipping?.backlogRecords ?? null);
  perChain("enclave_audit_backlog_bytes", "Spooled bytes not yet acknowledged by the region's sink", (c) => c.shipping?.backlogBytes ?? null);
  perChain("enclave_audit_backlog_age_seconds", "Age of the oldest audit entry not yet acknowledged by the region's sink", (c) => c.shipping?.backlogAgeSeconds ?? null);
  perChain("enclave_audit_sink_up", "1 when the last delivery to the region's sink succeeded", (c) => (c.shipping?.up === null || c.shipping === null ? null : c.shipping.up ? 1 : 0));
  perChain("enclave_audit_shipped_total", "Audit entries acknowledged by the region's sink since start", (c) => c.shipping?.shipped ?? null);
  perChain("enclave_audit_ship_failures_total", "Failed deliveries to the region's sink since start", (c) => c.shipping?.failures ?? null);
}

import { AuditLog, createContentCapture, openAuditTrail, parseContentKey, type Admission, type AuditTrail, type ContentCapture, type ContentKey, type TrailStats } from "@enclave/audit";
import type { AuditContentMode, AuditEvent, GatewayConfig } from "@enclave/contracts";
import { readSecret, type Logger } from "@enclave/runtime";
import { Gauge, type Registry } from "prom-client";
import type { GatewayError } from "./errors.js";

/** What the gateway needs of its audit trail, whichever store is configured. */
export interface GatewayAudit {
  /** A new request may be served (its record is sure to fit), or null: refuse it with {@link auditUnavailable}. */
  admit(): Admission | null;
  /** Resolves once the record is durable; rejects if it cannot be written. */
  append(event: AuditEvent, admission: Admission | null): Promise<unknown>;
  /** Collects the bodies as the tenant's content mode asks, or null for `none`. */
  capture(mode: AuditContentMode): ContentCapture | null;
  /** Why the gateway is not ready on the audit side, or undefined. */
  notReadyBecause(): string | undefined;
  stats(): TrailStats | null;
  close(): Promise<void>;
}

const ALWAYS: Admission = { release() {} };

/**
 * The durable spool with shipping (`audit.spool`), or the deprecated single local file
 * (`audit.file`). Secrets (the content key, the checkpoint key, sink TLS keys) are read
 * here, so a bad one stops the gateway at start.
 */
export async function openGatewayAudit(config: GatewayConfig, log: Logger): Promise<GatewayAudit> {
  const a = config.audit;
  const key: ContentKey | undefined = a.content ? { id: a.content.keyId, key: parseContentKey(readSecret(a.content.key)) } : undefined;
  const maxBytes = a.content?.maxBytes ?? 0;
  const capture = (mode: AuditContentMode) => createContentCapture(mode, { maxBytes, ...(key ? { key } : {}) });
  if (a.spool === undefined) {
    const file = a.file!;
    const legacy = await AuditLog.open(file, config.id);
    if (legacy.repairedBytes > 0) log.warn({ file, bytes: legacy.repairedBytes }, "cut a torn tail off the audit log");
    log.warn({ file }, "audit.file is deprecated: records stay in a local file and are never shipped; configure audit.spool");
    return {
      admit: () => ALWAYS,
      append: (event) => legacy.append(event),
      capture,
      notReadyBecause: () => undefined,
      stats: () => null,
      close: () => legacy.close(),
    };
  }
  const trail: AuditTrail = await openAuditTrail(a, { emitter: config.id, homeRegion: config.homeRegion, log });
  return {
    admit: () => trail.admit(),
    append: (event, admission) => trail.append(event, admission),
    capture,
    notReadyBecause() {
      const b = trail.stats().budget;
      return b.exhausted && b.policy === "fail-closed" ? "the audit spool's disk budget is used up (records are not being shipped?)" : undefined;
    },
    stats: () => trail.stats(),
    close: () => trail.close(),
  };
}

/** 503 when a request cannot be recorded: no audit, no inference. */
export function auditUnavailable(): GatewayError {
  return {
    status: 503, type: "service_unavailable", code: "audit_unavailable", param: null,
    message: "The gateway cannot record requests right now, and serves none unrecorded. Retry later.",
  };
}

/**
 * The spool and shipping as Prometheus metrics, read from the trail's stats at scrape
 * time. Labels are region ids (one chain and one sink per region): bounded.
 */
export function registerAuditMetrics(registry: Registry, audit: GatewayAudit): void {
  const registers = [registry];
  // One snapshot serves every gauge of a scrape.
  let snapshot: { at: number; stats: TrailStats | null } | null = null;
  const stats = () => {
    if (snapshot === null || Date.now() - snapshot.at > 250) snapshot = { at: Date.now(), stats: audit.stats() };
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
  perChain("enclave_audit_backlog_records", "Audit entries not yet acknowledged by the region's sink", (c) => c.shipping?.backlogRecords ?? null);
  perChain("enclave_audit_backlog_bytes", "Spooled bytes not yet acknowledged by the region's sink", (c) => c.shipping?.backlogBytes ?? null);
  perChain("enclave_audit_backlog_age_seconds", "Age of the oldest audit entry not yet acknowledged by the region's sink", (c) => c.shipping?.backlogAgeSeconds ?? null);
  perChain("enclave_audit_sink_up", "1 when the last delivery to the region's sink succeeded", (c) => (c.shipping?.up === null || c.shipping === null ? null : c.shipping.up ? 1 : 0));
  perChain("enclave_audit_shipped_total", "Audit entries acknowledged by the region's sink since start", (c) => c.shipping?.shipped ?? null);
  perChain("enclave_audit_ship_failures_total", "Failed deliveries to the region's sink since start", (c) => c.shipping?.failures ?? null);
}

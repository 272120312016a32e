import { AuditLog, createContentCapture, openAuditTrail, parseContentKey, type Admission, type AuditTrail, type ContentCapture, type ContentKey, type TrailStats } from "@enclave/audit";
import type { AuditContentMode, AuditEvent, GatewayConfig } from "@enclave/contracts";
import { readSecret, type Logger } from "@enclave/runtime";
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

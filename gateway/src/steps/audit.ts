import type { AuditContent, AuditDecision, AuditEvent, RouteEntry } from "@enclave/contracts";
import type { RequestContext } from "../request-context.js";

/** How the request ended. */
export interface Outcome {
  decision: AuditDecision;
  reason: string;
  status: number;
  retries: number;
  /** The backend that served (routed/failed after bytes), else null. */
  entry: RouteEntry | null;
  promptTokens: number | null;
  completionTokens: number | null;
}

const MAX_MODEL_CHARS = 256;
const MAX_REASON_CHARS = 1000;

/** The audit event for one request: identities by id only, no prompt content, no key material. */
/** `content`: what the tenant's audit content mode kept of the bodies, if anything. */
export function auditEventFor(ctx: RequestContext, outcome: Outcome, nowMs: number, content?: AuditContent): AuditEvent {
  return {
    tenant: ctx.principal?.tenant.id ?? null,
    principal: ctx.principal?.keyId ?? null,
    action: ctx.action,
    model: ctx.model === null ? null : ctx.model.slice(0, MAX_MODEL_CHARS),
    allowedRegions: [...ctx.allowedRegions],
    region: outcome.entry?.region ?? null,
    nodeId: outcome.entry?.nodeId ?? null,
    backendId: outcome.entry?.backendId ?? null,
    decision: outcome.decision,
    reason: outcome.reason.slice(0, MAX_REASON_CHARS),
    status: outcome.status,
    retries: outcome.retries,
    promptTokens: outcome.promptTokens,
    completionTokens: outcome.completionTokens,
    latencyMs: Math.max(0, Math.round((nowMs - ctx.startedAt) * 1000) / 1000),
    bodySha256: ctx.bodySha256,
    redactions: { ...ctx.redactions },
    ...(content ? { content } : {}),
  };
}

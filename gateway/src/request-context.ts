import type { Admission, ContentCapture } from "@enclave/audit";
import type { RedactionCounts } from "./redact/redact-text.js";
import type { Principal } from "./steps/authenticate.js";

export type AuditedAction = "chat.completions" | "completions" | "embeddings" | "models.list";

/** What the steps learned about one request, gathered for its single audit record. */
export interface RequestContext {
  action: AuditedAction;
  /** performance.now() at arrival. */
  startedAt: number;
  principal: Principal | null;
  /** As the client sent it, once the body parsed (null before). */
  model: string | null;
  /** Set only once the model passed the tenant and table checks, so metric labels stay bounded. */
  modelLabel: string;
  allowedRegions: string[];
  bodySha256: string | null;
  /** PII values replaced in the request and the response, by class. */
  redactions: RedactionCounts;
  /** The request's place in the audit spool's budget (released when the response closes). */
  admission: Admission | null;
  /** The bodies as the tenant's audit content mode keeps them, or null. */
  capture: ContentCapture | null;
  audited: boolean;
}

export function newRequestContext(action: AuditedAction, startedAt: number): RequestContext {
  return { action, startedAt, principal: null, model: null, modelLabel: "", allowedRegions: [], bodySha256: null, redactions: {}, admission: null, capture: null, audited: false };
}

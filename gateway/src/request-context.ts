import type { Principal } from "./steps/authenticate.js";

export type AuditedAction = "chat.completions" | "models.list";

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
  audited: boolean;
}

export function newRequestContext(action: AuditedAction, startedAt: number): RequestContext {
  return { action, startedAt, principal: null, model: null, modelLabel: "", allowedRegions: [], bodySha256: null, audited: false };
}

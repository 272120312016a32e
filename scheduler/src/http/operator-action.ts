import type { Logger } from "@enclave/runtime";
import type { FastifyReply, FastifyRequest } from "fastify";
import type { OperatorAction, OperatorAudit } from "../audit/operator-audit.js";
import type { AuthDecision } from "./auth.js";
import { sendError, type ErrorCode } from "./errors.js";

/** The outcome of an operator action: what to answer, and the words the audit record keeps. */
export type ActionOutcome = { status: number; reason: string; body: unknown } | { status: number; code: ErrorCode; reason: string };

export interface OperatorActionDeps {
  audit: OperatorAudit | undefined;
  log: Logger;
}

/**
 * Runs one operator action and audits it, accepted or refused, before answering. Without an
 * audit log the action is refused: an unaudited change to the fleet is not an option.
 */
export async function runOperatorAction(
  deps: OperatorActionDeps,
  req: FastifyRequest,
  reply: FastifyReply,
  what: Omit<OperatorAction, "principal" | "status" | "reason" | "latencyMs">,
  act: () => Promise<ActionOutcome>,
): Promise<FastifyReply> {
  if (deps.audit === undefined) {
    return sendError(reply, 503, "unavailable", "operator actions are disabled: this scheduler has no audit.spool configured");
  }
  // Only an action whose record is sure to fit the spool goes ahead (its sink may be away for long).
  const admission = deps.audit.admit();
  if (admission === null) {
    deps.log.error({ action: what.action }, "operator action refused: the audit spool's disk budget is used up");
    return sendError(reply, 503, "unavailable", "the scheduler cannot record operator actions right now (its audit spool is full: are records being shipped?); nothing was changed");
  }
  const started = performance.now();
  let outcome: ActionOutcome;
  try {
    outcome = await act();
  } catch (e) {
    deps.log.warn({ err: { message: (e as Error).message }, action: what.action }, "operator action failed");
    outcome = { status: 503, code: "unavailable", reason: "the scheduler's store is unavailable; retry later" };
  }
  try {
    await deps.audit.record({ ...what, principal: req.principal?.id ?? null, status: outcome.status, reason: outcome.reason, latencyMs: performance.now() - started }, admission);
  } catch (e) {
    deps.log.error({ err: { message: (e as Error).message }, action: what.action, status: outcome.status }, "could not write the audit record of an operator action");
    return sendError(reply, 500, "internal", `the audit record could not be written (the action ended with status ${outcome.status}); see the scheduler log`);
  } finally {
    admission.release();
  }
  if ("code" in outcome) return sendError(reply, outcome.status, outcome.code, outcome.reason);
  return reply.code(outcome.status).send(outcome.body);
}

/** Audits a refused operator request (a known token without the right), then lets the hook answer. */
export function auditDenied(deps: OperatorActionDeps, what: (req: FastifyRequest) => Omit<OperatorAction, "principal" | "status" | "reason" | "latencyMs">) {
  return (req: FastifyRequest, d: AuthDecision & { ok: false }) => {
    if (deps.audit === undefined || d.principal === undefined) return;
    deps.audit
      .record({ ...what(req), principal: d.principal.id, status: d.status, reason: `refused: ${d.message}`, latencyMs: 0 })
      .catch((e: Error) => deps.log.error({ err: { message: e.message } }, "could not write the audit record of a refused operator action"));
  };
}

import type { ServerResponse } from "node:http";
import type { Logger } from "@enclave/runtime";
import { auditReason, internalError, type GatewayError } from "./errors.js";
import type { GatewayAudit } from "./gateway-audit.js";
import { sendError } from "./http/reply.js";
import type { GatewayMetrics } from "./metrics.js";
import type { RequestContext } from "./request-context.js";
import { auditEventFor, type Outcome } from "./steps/audit.js";

/** Ends each request's books exactly once: its audit record, then its metrics. */
export interface OutcomeRecorder {
  /** Resolves false when the record could not be written: the caller must not answer as if it had been. */
  record(ctx: RequestContext, outcome: Outcome, denialCode?: string): Promise<boolean>;
}

export function createOutcomeRecorder(audit: Pick<GatewayAudit, "append">, metrics: GatewayMetrics, log: Logger): OutcomeRecorder {
  return {
    async record(ctx, outcome, denialCode) {
      if (ctx.audited) {
        log.error({ action: ctx.action, reason: outcome.reason }, "second outcome for one request ignored");
        return true;
      }
      ctx.audited = true;
      const now = performance.now();
      if (ctx.action !== "models.list") {
        metrics.requests.labels({ model: ctx.modelLabel, region: outcome.entry?.region ?? "", status: String(outcome.status) }).inc();
        metrics.duration.observe((now - ctx.startedAt) / 1000);
      }
      if (denialCode !== undefined) metrics.denials.inc({ reason: denialCode });
      try {
        const appended = performance.now();
        await audit.append(auditEventFor(ctx, outcome, now, ctx.capture?.finish()), ctx.admission);
        metrics.auditWait.observe((performance.now() - appended) / 1000);
        return true;
      } catch (e) {
        log.error({ err: (e as Error).message, action: ctx.action }, "audit append failed");
        return false;
      }
    },
  };
}

/**
 * The gateway answers a request itself (a denial, or an error before any byte was
 * sent): audit first, then reply. If the audit record cannot be written the
 * client gets a 500 instead: no answer leaves unaudited.
 */
export async function replyWithError(
  res: ServerResponse,
  ctx: RequestContext,
  recorder: OutcomeRecorder,
  error: GatewayError,
  opts: { decision?: "denied" | "failed"; retries?: number; headers?: Record<string, string> } = {},
): Promise<void> {
  const audited = await recorder.record(
    ctx,
    {
      decision: opts.decision ?? "denied",
      reason: auditReason(error),
      status: error.status,
      retries: opts.retries ?? 0,
      entry: null,
      promptTokens: null,
      completionTokens: null,
    },
    opts.decision === "failed" ? undefined : error.code,
  );
  sendError(res, audited ? error : internalError(), audited ? opts.headers : undefined);
}

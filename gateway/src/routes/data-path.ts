import type { IncomingMessage, ServerResponse } from "node:http";
import type { Logger } from "@enclave/runtime";
import type { CredentialStore } from "../auth/credentials.js";
import { internalError, notReady, requestTooLarge } from "../errors.js";
import { auditUnavailable, type GatewayAudit } from "../gateway-audit.js";
import { readBody } from "../http/body.js";
import { sendError, sendJson } from "../http/reply.js";
import type { GatewayMetrics } from "../metrics.js";
import { replyWithError, type OutcomeRecorder } from "../outcome-recorder.js";
import type { GenerationKind } from "../redact/redact-request.js";
import { newRequestContext, type AuditedAction, type RequestContext } from "../request-context.js";
import type { Routes } from "../routing/backends.js";
import { generationHandler, type GenerationDeps } from "./generation.js";
import { listModels } from "./models.js";

export interface DataPathDeps extends GenerationDeps {
  credentials: CredentialStore;
  audit: Pick<GatewayAudit, "admit" | "capture">;
  log: Logger;
}

type Endpoint = { kind: GenerationKind; action: AuditedAction } | { kind: "models"; action: AuditedAction };

const ENDPOINTS: Record<string, Endpoint> = {
  "POST /v1/chat/completions": { kind: "chat", action: "chat.completions" },
  "POST /v1/completions": { kind: "completion", action: "completions" },
  "POST /v1/embeddings": { kind: "embedding", action: "embeddings" },
  "GET /v1/models": { kind: "models", action: "models.list" },
};

/**
 * The client API on plain node:http, the hot path: one lookup picks the endpoint, the
 * caller is authenticated before a byte of the body is read (strangers cannot make the
 * gateway buffer anything), the body is read bounded, and the generation pipeline takes
 * over. Returns null for anything else (health, metrics, unknown URLs), which the
 * control-plane app answers.
 */
export function createDataPath(d: DataPathDeps): (req: IncomingMessage, res: ServerResponse) => boolean {
  const handlers = {
    chat: generationHandler("chat", d),
    completion: generationHandler("completion", d),
    embedding: generationHandler("embedding", d),
  };
  const serve = async (ep: Endpoint, req: IncomingMessage, res: ServerResponse): Promise<void> => {
    const ctx = newRequestContext(ep.action, performance.now());
    // No audit, no inference: a request whose record might not fit the spool is not served.
    const admitted = d.audit.admit();
    if (admitted === null) {
      const e = auditUnavailable();
      d.metrics.denials.inc({ reason: e.code });
      return sendError(res, e);
    }
    ctx.admission = admitted;
    try {
      const pending = d.credentials.authenticate(req.headers.authorization);
      const auth = "then" in pending ? await pending : pending;
      if (!auth.ok) return await replyWithError(res, ctx, d.recorder, auth.error, { headers: closeIfBody(req) });
      ctx.principal = auth.value;
      ctx.capture = d.audit.capture(auth.value.tenant.auditContent);
      if (ep.kind === "models") return await models(ctx, res, d.routes(), d.recorder);
      const body = await readBody(req, d.bodyLimitBytes);
      if (!body.ok) {
        if (body.why === "aborted") {
          await d.recorder.record(ctx, { decision: "failed", reason: "client_disconnected", status: 499, retries: 0, entry: null, promptTokens: null, completionTokens: null });
          res.destroy();
          return;
        }
        // The rest of the body is not read: the connection closes after the answer.
        return await replyWithError(res, ctx, d.recorder, requestTooLarge(d.bodyLimitBytes), { headers: { connection: "close" } });
      }
      await handlers[ep.kind](ctx, req, res, body.body);
    } catch (e) {
      d.log.error({ err: (e as Error).message, url: req.url }, "request failed");
      if (!ctx.audited) {
        await d.recorder.record(ctx, { decision: "failed", reason: `internal_error: ${(e as Error).message}`, status: 500, retries: 0, entry: null, promptTokens: null, completionTokens: null });
      }
      if (!res.headersSent && !res.destroyed) sendError(res, internalError());
      else res.destroy();
    } finally {
      admitted.release();
    }
  };
  return (req, res) => {
    const url = req.url ?? "";
    const q = url.indexOf("?");
    const ep = ENDPOINTS[`${req.method} ${q < 0 ? url : url.slice(0, q)}`];
    if (ep === undefined) return false;
    void serve(ep, req, res);
    return true;
  };
}

/** A refused request whose body was never read: close the connection rather than read it. */
function closeIfBody(req: IncomingMessage): Record<string, string> | undefined {
  return req.headers["content-length"] !== undefined && req.headers["content-length"] !== "0" || req.headers["transfer-encoding"] !== undefined ? { connection: "close" } : undefined;
}

async function models(ctx: RequestContext, res: ServerResponse, routes: Routes | null, recorder: OutcomeRecorder): Promise<void> {
  if (routes === null) return replyWithError(res, ctx, recorder, notReady());
  // Listing is not a decision on anyone's data: only its denials are audited.
  sendJson(res, 200, JSON.stringify(listModels(ctx.principal!.tenant, routes.table)));
}

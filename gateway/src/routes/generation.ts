import type { IncomingMessage, ServerResponse } from "node:http";
import { hash } from "node:crypto";
import type { Tenant } from "@enclave/contracts";
import { noCompliantBackend, notReady, rateLimited, type GatewayError } from "../errors.js";
import type { InFlight } from "../inflight.js";
import type { AdmissionControl } from "../limits/admission.js";
import type { TenantRateLimiter } from "../limits/rate-limit.js";
import type { GatewayMetrics } from "../metrics.js";
import { replyWithError, type OutcomeRecorder } from "../outcome-recorder.js";
import { redactRequestBody, type GenerationKind } from "../redact/redact-request.js";
import { createRedactor, type RedactionCounts, type Redactor } from "../redact/redact-text.js";
import { redactResponseJson, SseRedactor } from "../redact/sse-response.js";
import type { RequestContext } from "../request-context.js";
import { affinityKey } from "../routing/affinity.js";
import { compliantCandidates, type Routes } from "../routing/backends.js";
import type { Breakers } from "../routing/breaker.js";
import type { AllowedSet } from "../routing/filter.js";
import type { RoutingWeights } from "../routing/score.js";
import { checkModel } from "../steps/model.js";
import { clientHeaders, connectUpstream, describeError, upstreamHeaders, type Connected } from "../steps/proxy.js";
import { decideResidency } from "../steps/residency.js";
import { validateGenerationBody } from "../steps/validate.js";
import { createUsageScanner } from "../usage-scan.js";
import { createCompletionHold } from "../steps/completion-hold.js";
import { Cancel } from "../upstream/cancel.js";
import type { UpstreamClient } from "../upstream/client.js";

export interface GenerationDeps {
  bodyLimitBytes: number;
  maxRetries: number;
  totalTimeoutMs: number;
  client: UpstreamClient;
  inflight: InFlight;
  breakers: Breakers;
  admission: AdmissionControl;
  rateLimiter: TenantRateLimiter;
  routing: { weights: RoutingWeights; maxImbalance: number; prefixChars: number };
  metrics: GatewayMetrics;
  recorder: OutcomeRecorder;
  routes: () => Routes | null;
}

export const UPSTREAM_PATH: Record<GenerationKind, string> = {
  chat: "/v1/chat/completions",
  completion: "/v1/completions",
  embedding: "/v1/embeddings",
};

/** Status recorded when the client went away before any answer. */
const CLIENT_CLOSED = 499;

/**
 * A generation endpoint after authentication and the body: admission, rate limit,
 * validate, model, residency, redact, route, proxy, audit, in that order. Every
 * branch ends in exactly one audit record and one answer.
 */
export function generationHandler(kind: GenerationKind, d: GenerationDeps) {
  const path = UPSTREAM_PATH[kind];
  return async function generation(ctx: RequestContext, req: IncomingMessage, res: ServerResponse, raw: Buffer): Promise<void> {
    const principal = ctx.principal;
    if (principal === null) throw new Error("an unauthenticated request reached a generation handler");
    const tenant = principal.tenant;

    let release = d.admission.tryAdmit();
    if (release === null) {
      const waited = await d.admission.admit();
      if (!waited.ok) {
        d.metrics.shed.inc({ reason: waited.reason });
        return shed(res, ctx, d.recorder, 1000, "The gateway is at capacity. Retry shortly.");
      }
      release = waited.release;
    }
    try {
      const rate = d.rateLimiter.admit(tenant.id, tenant.rateLimits);
      if (!rate.ok) {
        d.metrics.shed.inc({ reason: `rate_limit_${rate.limit}` });
        return await shed(res, ctx, d.recorder, rate.retryAfterMs, `Rate limit reached for ${rate.limit} per minute. Retry later.`);
      }

      ctx.bodySha256 = raw.length > 0 ? hash("sha256", raw, "hex") : null;
      if (raw.length > 0) ctx.capture?.request(raw);
      const valid = validateGenerationBody(kind, raw, d.bodyLimitBytes);
      if (!valid.ok) return await replyWithError(res, ctx, d.recorder, valid.error);
      const { model, stream, body } = valid.value;
      ctx.model = model;

      const routes = d.routes();
      if (routes === null) return await replyWithError(res, ctx, d.recorder, notReady());
      const known = checkModel(model, tenant, routes.table);
      if (!known.ok) return await replyWithError(res, ctx, d.recorder, known.error);
      ctx.modelLabel = model;

      const header = req.headers["x-enclave-region"];
      const residency = decideResidency(tenant.regions, Array.isArray(header) ? header.join(",") : header);
      if (!residency.ok) return await replyWithError(res, ctx, d.recorder, residency.error);
      ctx.allowedRegions = residency.value;
      const allowed: AllowedSet = { model, regions: residency.value, jurisdictions: tenant.jurisdictions };

      const candidates = compliantCandidates(routes, allowed);
      if (candidates.length === 0) {
        const refused = routes.refusedByModel.get(model) ?? 0;
        d.metrics.noCompliantBackend.inc({ reason: refused > 0 ? "egress_refused" : "none_in_allowed_set" });
        const why = refused > 0 ? `no ready backend in the allowed set (${refused} of the model's backends refused by the egress policy)` : "no ready backend in the allowed set";
        return await replyWithError(res, ctx, d.recorder, noCompliantBackend(model, why));
      }

      const redactor = redactorOf(tenant);
      let upstreamBody: Buffer | string = raw;
      if (redactor.active) {
        const counts: RedactionCounts = {};
        if (redactRequestBody(kind, body, redactor, counts)) upstreamBody = JSON.stringify(body);
        addCounts(ctx, d.metrics, counts, "request");
      }

      const sessionHeader = req.headers["x-enclave-session"];
      const session = typeof sessionHeader === "string" ? sessionHeader.slice(0, 1024) : valid.value.user;
      const key = kind === "embedding" ? undefined : affinityKey(session, leadingText(kind, body, d.routing.prefixChars), d.routing.prefixChars);

      const cancel = new Cancel();
      const onClose = () => {
        if (!res.writableFinished) cancel.abort("client_disconnected");
      };
      res.on("close", onClose);
      try {
        const up = await connectUpstream({
          client: d.client,
          candidates,
          allowed,
          maxRetries: d.maxRetries,
          inflight: d.inflight,
          breakers: d.breakers,
          affinityKey: key,
          routing: d.routing,
          path,
          headers: upstreamHeaders(req.headers),
          body: upstreamBody,
          deadline: ctx.startedAt + d.totalTimeoutMs,
          cancel,
          onRetry: () => d.metrics.retries.inc(),
        });
        if (!up.ok) {
          if (up.aborted && res.destroyed) {
            await d.recorder.record(ctx, {
              decision: "failed", reason: "client_disconnected", status: CLIENT_CLOSED, retries: up.retries,
              entry: null, promptTokens: null, completionTokens: null,
            });
            res.destroy();
            return;
          }
          d.metrics.noCompliantBackend.inc({ reason: up.why });
          const why = up.aborted ? "total timeout" : up.failures.length > 0 ? up.failures.join("; ") : "no untried backend left";
          return await replyWithError(res, ctx, d.recorder, noCompliantBackend(model, why), { retries: up.retries });
        }
        if (up.retries > 0) d.metrics.failovers.inc();
        await streamBack(up, {
          kind, ctx, recorder: d.recorder, metrics: d.metrics, res, cancel,
          redactor: tenant.redactResponses === true ? redactor : null,
          charge: (tokens) => d.rateLimiter.charge(tenant.id, tenant.rateLimits, tokens),
        });
      } finally {
        res.off("close", onClose);
      }
    } finally {
      release();
    }
  };
}

/** One redactor per tenant (config objects live as long as the process). */
const redactors = new WeakMap<Tenant, Redactor>();
function redactorOf(tenant: Tenant): Redactor {
  let r = redactors.get(tenant);
  if (r === undefined) {
    r = createRedactor(tenant.redact);
    redactors.set(tenant, r);
  }
  return r;
}

function shed(res: ServerResponse, ctx: RequestContext, recorder: OutcomeRecorder, retryAfterMs: number, message: string): Promise<void> {
  const error: GatewayError = rateLimited(message);
  return replyWithError(res, ctx, recorder, error, { headers: { "retry-after": String(Math.max(1, Math.ceil(retryAfterMs / 1000))) } });
}

function addCounts(ctx: RequestContext, metrics: GatewayMetrics, counts: RedactionCounts, direction: "request" | "response"): void {
  for (const [cls, n] of Object.entries(counts)) {
    if (!n) continue;
    ctx.redactions[cls as keyof RedactionCounts] = (ctx.redactions[cls as keyof RedactionCounts] ?? 0) + n;
    metrics.redactions.inc({ class: cls, direction }, n);
  }
}

/** The conversation's leading text (after redaction): what prefix caching reuses. */
function leadingText(kind: GenerationKind, body: Record<string, unknown>, maxChars: number): string {
  if (kind === "completion") {
    const p = body.prompt;
    return typeof p === "string" ? p.slice(0, maxChars) : Array.isArray(p) && typeof p[0] === "string" ? p[0].slice(0, maxChars) : "";
  }
  const messages = body.messages;
  if (!Array.isArray(messages)) return "";
  let text = "";
  for (const m of messages) {
    if (text.length >= maxChars) break;
    const content = (m as { content?: unknown } | null)?.content;
    if (typeof content === "string") text += content + "\u0000";
    else if (Array.isArray(content)) {
      for (const part of content) {
        const t = (part as { text?: unknown } | null)?.text;
        if (typeof t === "string") text += t + "\u0000";
      }
    }
  }
  return text.slice(0, maxChars);
}

interface StreamBack {
  kind: GenerationKind;
  ctx: RequestContext;
  recorder: OutcomeRecorder;
  metrics: GatewayMetrics;
  res: ServerResponse;
  cancel: Cancel;
  /** Redact the answer (the tenant asked for it), else null. */
  redactor: Redactor | null;
  charge: (tokens: number) => void;
}

/**
 * A JSON answer up to this size is kept whole and sent in one write once its record is
 * durable: a client cannot use a JSON body before its last byte anyway, so holding it costs
 * no latency and saves writes. A larger one streams, holding back only its last byte.
 */
const MAX_HELD_BYTES = 1024 * 1024;
/** A JSON answer larger than this is not held for redaction: the request fails closed instead. */
const MAX_REDACTED_JSON_BYTES = 16 * 1024 * 1024;

/**
 * Passes the engine's answer on (redacted when the tenant asks). The audit record is
 * written after the engine's last byte and before the client's response completes:
 * what would complete it (a JSON body, the last byte of a long one, an SSE stream's
 * `[DONE]`) waits for the record to be durable. If the engine breaks off mid-answer, a
 * held JSON answer becomes a 502 (nothing of it was sent), an SSE stream ends with a
 * terminal error event the client can see, and a long streamed body is cut (the
 * connection reset), so a truncated answer never looks complete.
 */
async function streamBack(up: Extract<Connected, { ok: true }>, o: StreamBack): Promise<void> {
  const { entry, response, retries, release } = up;
  const { ctx, res } = o;
  const status = response.statusCode;
  const ct = response.headers["content-type"];
  const contentType = (Array.isArray(ct) ? ct[0] : ct) ?? "";
  const isSse = contentType.toLowerCase().startsWith("text/event-stream");
  const scanner = createUsageScanner(contentType);
  const headers = clientHeaders(response.headers, entry);
  const counts: RedactionCounts = {};
  const sse = o.redactor && isSse && status < 400 ? new SseRedactor(o.kind, o.redactor, counts) : null;
  const redactJson = o.redactor !== null && !isSse && status < 400 && o.kind !== "embedding";
  // SSE streams from the first chunk; JSON is held whole (up to a size; redaction needs it whole anyway).
  let held: Buffer[] | null = isSse ? null : [];
  let heldBytes = 0;
  const hold = createCompletionHold(isSse);
  let broken = null as string | null;
  let headersSent = false;
  let firstByte = true;
  const startStreaming = () => {
    if (sse) delete headers["content-length"];
    res.writeHead(status, headers);
    headersSent = true;
  };
  const send = (chunk: Buffer) => {
    if (chunk.length === 0) return;
    ctx.capture?.response(chunk);
    if (firstByte) {
      firstByte = false;
      o.metrics.ttft.observe((performance.now() - ctx.startedAt) / 1000);
    }
    if (!res.write(chunk)) {
      response.pause();
      res.once("drain", () => response.resume());
    }
  };
  if (isSse) {
    startStreaming();
    // Headers go out with the first event; if the engine is slow to send one, on their own.
    setImmediate(() => {
      if (firstByte && !res.headersSent && !res.destroyed) res.flushHeaders();
    });
  }
  await new Promise<void>((resolve) => {
    response.read({
      data(chunk) {
        if (broken !== null) return;
        scanner.push(chunk);
        if (held !== null) {
          heldBytes += chunk.length;
          held.push(chunk);
          if (heldBytes <= (redactJson ? MAX_REDACTED_JSON_BYTES : MAX_HELD_BYTES)) return;
          if (redactJson) {
            broken = `upstream_broken: answer larger than ${MAX_REDACTED_JSON_BYTES} bytes cannot be redacted`;
            response.destroy();
            return resolve();
          }
          // Too large to hold: stream it, keeping back only the last byte.
          const all = Buffer.concat(held, heldBytes);
          held = null;
          startStreaming();
          send(hold.push(all));
          return;
        }
        try {
          const out = sse ? sse.push(chunk) : chunk;
          send(hold.push(typeof out === "string" ? Buffer.from(out) : out));
        } catch (e) {
          broken = `upstream_broken: ${describeError(e)}`;
          response.destroy();
          resolve();
        }
      },
      end() {
        if (sse && broken === null) send(hold.push(Buffer.from(sse.end())));
        resolve();
      },
      error(e) {
        broken ??= o.cancel.aborted && o.cancel.reason === "client_disconnected" ? "client_disconnected" : `upstream_broken: ${o.cancel.aborted ? o.cancel.reason : describeError(e)}`;
        resolve();
      },
    });
  });
  release();
  let whole: Buffer | null = null;
  if (held !== null && broken === null) {
    whole = held.length === 1 ? held[0]! : Buffer.concat(held, heldBytes);
    if (redactJson) whole = redactResponseJson(o.kind, whole, o.redactor!, counts) ?? whole;
    ctx.capture?.response(whole);
  }
  addCounts(ctx, o.metrics, counts, "response");
  const tail = whole === null ? hold.rest() : null;
  if (tail) ctx.capture?.response(tail);
  const usage = scanner.result();
  if (usage.promptTokens !== null || usage.completionTokens !== null) o.charge((usage.promptTokens ?? 0) + (usage.completionTokens ?? 0));
  const audited = await o.recorder.record(ctx, {
    decision: broken === null ? "routed" : "failed",
    reason: broken ?? (status < 400 ? "ok" : `engine answered ${status}`),
    status: headersSent || whole !== null ? status : 502,
    retries,
    entry,
    promptTokens: usage.promptTokens,
    completionTokens: usage.completionTokens,
  });
  if (res.destroyed) return;
  if (broken === null && audited) {
    if (whole !== null) {
      headers["content-length"] = String(whole.length);
      res.writeHead(status, headers);
      o.metrics.ttft.observe((performance.now() - ctx.startedAt) / 1000);
      res.end(whole);
    } else {
      res.end(tail);
    }
    return;
  }
  if (audited && broken !== null && !broken.startsWith("client_") && headersSent && isSse) {
    // The client already has bytes: say in-band that the stream failed, then end it.
    res.end(terminalSseError());
    return;
  }
  if (audited && !headersSent) {
    res.writeHead(502, { "content-type": "application/json; charset=utf-8" });
    res.end(JSON.stringify({ error: { message: "The engine's answer could not be passed on.", type: "server_error", param: null, code: "upstream_error" } }));
    return;
  }
  res.destroy();
}

/** The event OpenAI SDKs raise as an APIError: `data` carries an `error` object. */
export function terminalSseError(): string {
  return `event: error\ndata: ${JSON.stringify({ error: { message: "The stream from the model server broke off; the answer is incomplete.", type: "server_error", param: null, code: "upstream_stream_broken" } })}\n\n`;
}

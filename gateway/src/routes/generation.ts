import { once } from "node:events";
import type { RouteTable } from "@enclave/contracts";
import { sha256Hex } from "@enclave/runtime";
import type { FastifyReply, FastifyRequest } from "fastify";
import type { Dispatcher } from "undici";
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
import type { Breakers } from "../routing/breaker.js";
import { compliantBackends, type AllowedSet } from "../routing/filter.js";
import type { RoutingWeights } from "../routing/score.js";
import { checkModel } from "../steps/model.js";
import { clientHeaders, connectUpstream, describeError, upstreamHeaders, type Connected } from "../steps/proxy.js";
import { decideResidency } from "../steps/residency.js";
import { validateGenerationBody } from "../steps/validate.js";
import { createUsageScanner } from "../usage-scan.js";
import { createCompletionHold } from "../steps/completion-hold.js";

export interface GenerationDeps {
  bodyLimitBytes: number;
  maxRetries: number;
  totalTimeoutMs: number;
  dispatcher: Dispatcher;
  inflight: InFlight;
  breakers: Breakers;
  admission: AdmissionControl;
  rateLimiter: TenantRateLimiter;
  routing: { weights: RoutingWeights; maxImbalance: number; prefixChars: number };
  metrics: GatewayMetrics;
  recorder: OutcomeRecorder;
  table: () => RouteTable | null;
  context: (req: FastifyRequest) => RequestContext;
}

export const UPSTREAM_PATH: Record<GenerationKind, string> = {
  chat: "/v1/chat/completions",
  completion: "/v1/completions",
  embedding: "/v1/embeddings",
};

/** Status recorded when the client went away before any answer. */
const CLIENT_CLOSED = 499;
/** A JSON answer larger than this is not held for redaction: the request fails closed instead. */
const MAX_REDACTED_JSON_BYTES = 16 * 1024 * 1024;

/**
 * A generation endpoint after authentication (an onRequest hook): admission,
 * rate limit, validate, model, residency, redact, route, proxy, audit, in that
 * order. Every branch ends in exactly one audit record and one answer.
 */
export function generationHandler(kind: GenerationKind, d: GenerationDeps) {
  const path = UPSTREAM_PATH[kind];
  return async function generation(req: FastifyRequest, reply: FastifyReply): Promise<FastifyReply | void> {
    const ctx = d.context(req);
    const principal = ctx.principal;
    if (principal === null) throw new Error("an unauthenticated request reached a generation handler");
    const tenant = principal.tenant;

    let release = d.admission.tryAdmit();
    if (release === null) {
      const waited = await d.admission.admit();
      if (!waited.ok) {
        d.metrics.shed.inc({ reason: waited.reason });
        return shed(reply, ctx, d.recorder, 1000, "The gateway is at capacity. Retry shortly.");
      }
      release = waited.release;
    }
    try {
      const rate = d.rateLimiter.admit(tenant.id, tenant.rateLimits);
      if (!rate.ok) {
        d.metrics.shed.inc({ reason: `rate_limit_${rate.limit}` });
        return await shed(reply, ctx, d.recorder, rate.retryAfterMs, `Rate limit reached for ${rate.limit} per minute. Retry later.`);
      }

      const raw = Buffer.isBuffer(req.body) ? req.body : undefined;
      ctx.bodySha256 = raw && raw.length > 0 ? sha256Hex(raw) : null;
      if (raw) ctx.capture?.request(raw);
      const valid = validateGenerationBody(kind, raw, d.bodyLimitBytes);
      if (!valid.ok) return await replyWithError(reply, ctx, d.recorder, valid.error);
      const { model, stream, body } = valid.value;
      ctx.model = model;

      const table = d.table();
      if (table === null) return await replyWithError(reply, ctx, d.recorder, notReady());
      const known = checkModel(model, tenant, table);
      if (!known.ok) return await replyWithError(reply, ctx, d.recorder, known.error);
      ctx.modelLabel = model;

      const header = req.headers["x-enclave-region"];
      const residency = decideResidency(tenant.regions, Array.isArray(header) ? header.join(",") : header);
      if (!residency.ok) return await replyWithError(reply, ctx, d.recorder, residency.error);
      ctx.allowedRegions = residency.value;
      const allowed: AllowedSet = { model, regions: residency.value, jurisdictions: tenant.jurisdictions };

      const candidates = compliantBackends(table, allowed);
      if (candidates.length === 0) {
        d.metrics.noCompliantBackend.inc({ reason: "none_in_allowed_set" });
        return await replyWithError(reply, ctx, d.recorder, noCompliantBackend(model, "no ready backend in the allowed set"));
      }

      const redactor = createRedactor(tenant.redact);
      let upstreamBody: Buffer | string = raw as Buffer;
      if (redactor.active) {
        const counts: RedactionCounts = {};
        if (redactRequestBody(kind, body, redactor, counts)) upstreamBody = JSON.stringify(body);
        addCounts(ctx, d.metrics, counts, "request");
      }

      const sessionHeader = req.headers["x-enclave-session"];
      const session = typeof sessionHeader === "string" ? sessionHeader.slice(0, 1024) : valid.value.user;
      const key = kind === "embedding" ? undefined : affinityKey(session, leadingText(kind, body, d.routing.prefixChars), d.routing.prefixChars);

      const client = new AbortController();
      const res = reply.raw;
      const onClose = () => {
        if (!res.writableFinished) client.abort();
      };
      res.on("close", onClose);
      const total = setTimeout(() => client.abort(new Error("total timeout")), d.totalTimeoutMs);
      try {
        const up = await connectUpstream({
          dispatcher: d.dispatcher,
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
          signal: client.signal,
          onRetry: () => d.metrics.retries.inc(),
        });
        if (!up.ok) {
          if (up.aborted && res.destroyed) {
            reply.hijack();
            await d.recorder.record(ctx, {
              decision: "failed", reason: "client_disconnected", status: CLIENT_CLOSED, retries: up.retries,
              entry: null, promptTokens: null, completionTokens: null,
            });
            res.destroy();
            return;
          }
          d.metrics.noCompliantBackend.inc({ reason: up.why });
          const why = up.aborted ? "total timeout" : up.failures.length > 0 ? up.failures.join("; ") : "no untried backend left";
          return await replyWithError(reply, ctx, d.recorder, noCompliantBackend(model, why), { retries: up.retries });
        }
        if (up.retries > 0) d.metrics.failovers.inc();
        reply.hijack();
        await streamBack(up, {
          kind, ctx, recorder: d.recorder, metrics: d.metrics, res, clientGone: client.signal,
          redactor: tenant.redactResponses === true ? redactor : null,
          charge: (tokens) => d.rateLimiter.charge(tenant.id, tenant.rateLimits, tokens),
          stream,
        });
      } finally {
        clearTimeout(total);
        res.off("close", onClose);
      }
    } finally {
      release();
    }
  };
}

function shed(reply: FastifyReply, ctx: RequestContext, recorder: OutcomeRecorder, retryAfterMs: number, message: string): Promise<FastifyReply> {
  reply.header("retry-after", String(Math.max(1, Math.ceil(retryAfterMs / 1000))));
  const error: GatewayError = rateLimited(message);
  return replyWithError(reply, ctx, recorder, error);
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
  res: FastifyReply["raw"];
  clientGone: AbortSignal;
  /** Redact the answer (the tenant asked for it), else null. */
  redactor: Redactor | null;
  charge: (tokens: number) => void;
  stream: boolean;
}

/**
 * Passes the engine's answer through as it arrives (redacted when the tenant asks).
 * The audit record is written after the engine's last byte and before the
 * client's response ends. If the engine breaks off after bytes reached the client,
 * an SSE stream ends with a terminal error event the client can see; any other
 * body is cut (the connection reset) so a truncated answer never looks complete.
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
  const holdJson = o.redactor !== null && !isSse && status < 400 && o.kind !== "embedding";
  // What would let the client see the answer complete waits until its audit record is durable.
  const hold = createCompletionHold(isSse);
  let broken: string | null = null;
  let headersSent = false;
  let firstByte = true;
  const send = async (chunk: Buffer | string) => {
    if (chunk.length === 0) return;
    ctx.capture?.response(typeof chunk === "string" ? Buffer.from(chunk) : chunk);
    if (firstByte) {
      firstByte = false;
      o.metrics.ttft.observe((performance.now() - ctx.startedAt) / 1000);
    }
    if (!res.write(chunk)) await once(res, "drain", { signal: o.clientGone });
  };
  try {
    if (holdJson) {
      const parts: Buffer[] = [];
      let size = 0;
      for await (const chunk of response.body) {
        size += (chunk as Buffer).length;
        if (size > MAX_REDACTED_JSON_BYTES) throw new Error(`answer larger than ${MAX_REDACTED_JSON_BYTES} bytes cannot be redacted`);
        parts.push(chunk as Buffer);
      }
      const whole = Buffer.concat(parts);
      scanner.push(whole);
      const out = redactResponseJson(o.kind, whole, o.redactor!, counts) ?? whole;
      delete headers["content-length"];
      headers["content-length"] = String(out.length);
      res.writeHead(status, headers);
      headersSent = true;
      await send(hold.push(out));
    } else {
      if (sse) delete headers["content-length"];
      res.writeHead(status, headers);
      res.flushHeaders();
      headersSent = true;
      for await (const chunk of response.body) {
        scanner.push(chunk as Buffer);
        const out = sse ? sse.push(chunk as Buffer) : (chunk as Buffer);
        await send(hold.push(typeof out === "string" ? Buffer.from(out) : out));
      }
      if (sse) await send(hold.push(Buffer.from(sse.end())));
    }
  } catch (e) {
    broken = o.clientGone.aborted && o.res.destroyed ? "client_disconnected" : `upstream_broken: ${o.clientGone.aborted ? "total timeout" : describeError(e)}`;
    response.body.destroy();
  } finally {
    release();
  }
  addCounts(ctx, o.metrics, counts, "response");
  const tail = hold.rest();
  ctx.capture?.response(tail);
  const usage = scanner.result();
  if (usage.promptTokens !== null || usage.completionTokens !== null) o.charge((usage.promptTokens ?? 0) + (usage.completionTokens ?? 0));
  const audited = await o.recorder.record(ctx, {
    decision: broken === null ? "routed" : "failed",
    reason: broken ?? (status < 400 ? "ok" : `engine answered ${status}`),
    status: headersSent ? status : 502,
    retries,
    entry,
    promptTokens: usage.promptTokens,
    completionTokens: usage.completionTokens,
  });
  if (broken === null && audited) {
    res.end(tail);
    return;
  }
  if (audited && broken !== null && !broken.startsWith("client_") && headersSent && isSse && !res.destroyed) {
    // The client already has bytes: say in-band that the stream failed, then end it.
    res.end(terminalSseError());
    return;
  }
  if (audited && !headersSent && !res.destroyed) {
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

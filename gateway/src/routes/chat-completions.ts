import { once } from "node:events";
import type { RouteTable } from "@enclave/contracts";
import { sha256Hex } from "@enclave/runtime";
import type { FastifyReply, FastifyRequest } from "fastify";
import type { Dispatcher } from "undici";
import { noCompliantBackend, notReady } from "../errors.js";
import type { InFlight } from "../inflight.js";
import type { GatewayMetrics } from "../metrics.js";
import { replyWithError, type OutcomeRecorder } from "../outcome-recorder.js";
import type { RequestContext } from "../request-context.js";
import { checkModel } from "../steps/model.js";
import { clientHeaders, connectUpstream, describeError, upstreamHeaders, type Connected } from "../steps/proxy.js";
import { decideResidency } from "../steps/residency.js";
import { routeCandidates } from "../steps/route.js";
import { validateChatBody } from "../steps/validate.js";
import { createUsageScanner } from "../usage-scan.js";

export interface ChatCompletionsDeps {
  bodyLimitBytes: number;
  maxRetries: number;
  dispatcher: Dispatcher;
  inflight: InFlight;
  metrics: GatewayMetrics;
  recorder: OutcomeRecorder;
  table: () => RouteTable | null;
  context: (req: FastifyRequest) => RequestContext;
}

/** Status recorded when the client went away before any answer. */
const CLIENT_CLOSED = 499;

/**
 * POST /v1/chat/completions after authentication (an onRequest hook): validate,
 * model, residency, route, proxy, audit, in that order. Every branch ends in
 * exactly one audit record and one answer.
 */
export function chatCompletionsHandler(d: ChatCompletionsDeps) {
  return async function chatCompletions(req: FastifyRequest, reply: FastifyReply): Promise<FastifyReply | void> {
    const ctx = d.context(req);
    const principal = ctx.principal;
    if (principal === null) throw new Error("an unauthenticated request reached the chat handler");
    d.metrics.inflight.inc();
    try {
      const raw = Buffer.isBuffer(req.body) ? req.body : undefined;
      ctx.bodySha256 = raw && raw.length > 0 ? sha256Hex(raw) : null;
      const valid = validateChatBody(raw, d.bodyLimitBytes);
      if (!valid.ok) return await replyWithError(reply, ctx, d.recorder, valid.error);
      const model = valid.value.model;
      ctx.model = model;

      const table = d.table();
      if (table === null) return await replyWithError(reply, ctx, d.recorder, notReady());
      const known = checkModel(model, principal.tenant, table);
      if (!known.ok) return await replyWithError(reply, ctx, d.recorder, known.error);
      ctx.modelLabel = model;

      const header = req.headers["x-enclave-region"];
      const residency = decideResidency(principal.tenant.regions, Array.isArray(header) ? header.join(",") : header);
      if (!residency.ok) return await replyWithError(reply, ctx, d.recorder, residency.error);
      ctx.allowedRegions = residency.value;

      const candidates = routeCandidates(table, model, ctx.allowedRegions);
      if (candidates.length === 0) {
        return await replyWithError(reply, ctx, d.recorder, noCompliantBackend(model, "no ready backend in the allowed regions"));
      }

      const client = new AbortController();
      const res = reply.raw;
      const onClose = () => {
        if (!res.writableFinished) client.abort();
      };
      res.on("close", onClose);
      try {
        const up = await connectUpstream({
          dispatcher: d.dispatcher,
          candidates,
          allowedRegions: ctx.allowedRegions,
          maxRetries: d.maxRetries,
          inflight: d.inflight,
          path: "/v1/chat/completions",
          headers: upstreamHeaders(req.headers),
          body: raw as Buffer,
          signal: client.signal,
          onRetry: () => d.metrics.retries.inc(),
        });
        if (!up.ok) {
          if (up.aborted) {
            reply.hijack();
            await d.recorder.record(ctx, {
              decision: "failed", reason: "client_disconnected", status: CLIENT_CLOSED, retries: up.retries,
              entry: null, promptTokens: null, completionTokens: null,
            });
            res.destroy();
            return;
          }
          const why = up.failures.length > 0 ? up.failures.join("; ") : "no untried backend left";
          return await replyWithError(reply, ctx, d.recorder, noCompliantBackend(model, why), { retries: up.retries });
        }
        reply.hijack();
        await streamBack(up, ctx, d.recorder, res, client.signal);
      } finally {
        res.off("close", onClose);
      }
    } finally {
      d.metrics.inflight.dec();
    }
  };
}

/**
 * Passes the engine's answer through as it arrives. The audit record is written
 * after the engine's last byte and before the client's response ends; if the
 * engine broke off (or the record cannot be written) the client connection is
 * reset rather than ended, so a truncated answer never looks complete.
 */
async function streamBack(
  up: Extract<Connected, { ok: true }>,
  ctx: RequestContext,
  recorder: OutcomeRecorder,
  res: FastifyReply["raw"],
  clientGone: AbortSignal,
): Promise<void> {
  const { entry, response, retries, release } = up;
  const status = response.statusCode;
  const contentType = response.headers["content-type"];
  const scanner = createUsageScanner(Array.isArray(contentType) ? contentType[0] : contentType);
  let broken: string | null = null;
  try {
    res.writeHead(status, clientHeaders(response.headers, entry));
    res.flushHeaders();
    for await (const chunk of response.body) {
      scanner.push(chunk as Buffer);
      if (!res.write(chunk)) await once(res, "drain", { signal: clientGone });
    }
  } catch (e) {
    broken = clientGone.aborted ? "client_disconnected" : `upstream_broken: ${describeError(e)}`;
    response.body.destroy();
  } finally {
    release();
  }
  const usage = scanner.result();
  const audited = await recorder.record(ctx, {
    decision: broken === null ? "routed" : "failed",
    reason: broken ?? (status < 400 ? "ok" : `engine answered ${status}`),
    status,
    retries,
    entry,
    promptTokens: usage.promptTokens,
    completionTokens: usage.completionTokens,
  });
  if (broken === null && audited) res.end();
  else res.destroy();
}

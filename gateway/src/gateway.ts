import { readFileSync } from "node:fs";
import type { Server } from "node:http";
import { EMPTY_ROUTE_TABLE, type GatewayConfig, type RouteTable } from "@enclave/contracts";
import { createLogger, createRegistry, readSecret, registerObservability, type Logger } from "@enclave/runtime";
import Fastify, { LogController, type FastifyBaseLogger, type FastifyError, type FastifyReply, type FastifyRequest } from "fastify";
import { Agent } from "undici";
import { CredentialStore } from "./auth/credentials.js";
import { internalError, invalidBody, notReady, openAiErrorBody, requestTooLarge, unknownUrl, type GatewayError } from "./errors.js";
import { InFlight } from "./inflight.js";
import { AdmissionControl } from "./limits/admission.js";
import { TenantRateLimiter } from "./limits/rate-limit.js";
import { closeListener, startListener, type RunningListener } from "./listeners.js";
import { auditUnavailable, openGatewayAudit, registerAuditMetrics } from "./gateway-audit.js";
import { createGatewayMetrics } from "./metrics.js";
import { createOutcomeRecorder, replyWithError } from "./outcome-recorder.js";
import { newRequestContext, type AuditedAction, type RequestContext } from "./request-context.js";
import { generationHandler, type GenerationDeps } from "./routes/generation.js";
import { listModels } from "./routes/models.js";
import { startRouteWatch } from "./route-watch.js";
import { Breakers } from "./routing/breaker.js";
import { staticRouteTable } from "./static-routes.js";

export interface Gateway {
  /** The first listener's URL. */
  readonly url: string;
  /** Every listener's URL, in config order (`listen` first). */
  readonly urls: readonly string[];
  /** The route table in use (the empty table before the first arrived). */
  routes(): RouteTable;
  /** Re-reads API key and JWKS files and TLS certificates (what SIGHUP does). */
  reload(): Promise<void>;
  close(): Promise<void>;
}

/**
 * Assembles the gateway: credentials, the audit log, the engine connection pools,
 * the request pipeline with one registration per concern, the listeners and the
 * route source (the scheduler's watch, or static routes). Fails (having released
 * what it opened) when the config's secrets, keys, certificates or audit file are
 * unusable. SIGHUP reloads credentials and certificates without dropping connections.
 */
export async function startGateway(config: GatewayConfig, deps: { log?: Logger } = {}): Promise<Gateway> {
  const log = deps.log ?? createLogger("gateway", config.logLevel);
  const schedulerToken = config.scheduler ? readSecret(config.scheduler.token) : null;
  const credentials = await CredentialStore.open(config, log);
  const audit = await openGatewayAudit(config, log);

  let table: RouteTable | null = config.staticRoutes ? staticRouteTable(config.staticRoutes) : null;
  let confirmedAt: number | null = config.staticRoutes ? Date.now() : null;
  const registry = createRegistry("gateway");
  registerAuditMetrics(registry, audit);
  const admission = new AdmissionControl(config.limits.maxConcurrent, config.limits.maxQueue, config.limits.queueTimeoutMs);
  const metrics = createGatewayMetrics(
    registry,
    () => (config.staticRoutes ? 0 : confirmedAt === null ? Infinity : (Date.now() - confirmedAt) / 1000),
    () => ({ inflight: admission.inflight, queued: admission.queued }),
  );
  if (table) metrics.tableVersion.set(table.version);
  const recorder = createOutcomeRecorder(audit, metrics, log);
  const inflight = new InFlight();
  const breakers = new Breakers(config.breaker, (backend, state) => {
    metrics.breakerOpen.set({ backend }, state === "open" ? 1 : state === "half-open" ? 0.5 : 0);
    log.warn({ backend, state }, "circuit breaker changed");
  });
  const agent = new Agent({
    connect: { timeout: config.proxy.connectTimeoutMs },
    headersTimeout: config.proxy.headersTimeoutMs,
    bodyTimeout: config.proxy.bodyTimeoutMs,
    keepAliveTimeout: 30_000,
    pipelining: 1,
  });
  // The scheduler's watch verifies its certificate against the configured CA when it speaks TLS.
  const schedulerAgent = config.scheduler?.ca
    ? new Agent({ connect: { timeout: config.proxy.connectTimeoutMs, ca: readFileSync(config.scheduler.ca), rejectUnauthorized: true } })
    : agent;

  const app = Fastify({
    loggerInstance: log as FastifyBaseLogger,
    // The hot path stays quiet: per-request facts go to the audit log and metrics.
    logController: new LogController({ disableRequestLogging: true }),
    bodyLimit: config.bodyLimitBytes,
  });

  // The exact bytes are forwarded and hashed, so bodies stay Buffers; the steps parse them.
  app.removeAllContentTypeParsers();
  app.addContentTypeParser("*", { parseAs: "buffer", bodyLimit: config.bodyLimitBytes }, (_req, body, done) => done(null, body));

  const contexts = new WeakMap<FastifyRequest, RequestContext>();
  const contextOf = (req: FastifyRequest): RequestContext => {
    const ctx = contexts.get(req);
    if (!ctx) throw new Error(`no request context for ${req.method} ${req.url}`);
    return ctx;
  };
  /** Authentication runs before the body is read: strangers cannot make the gateway buffer anything. */
  const authenticated = (action: AuditedAction) => async (req: FastifyRequest, reply: FastifyReply) => {
    const ctx = newRequestContext(action, performance.now());
    contexts.set(req, ctx);
    // No audit, no inference: a request whose record might not fit the spool is not served.
    const admitted = audit.admit();
    if (admitted === null) {
      const e = auditUnavailable();
      metrics.denials.inc({ reason: e.code });
      return reply.code(e.status).type("application/json; charset=utf-8").send(openAiErrorBody(e));
    }
    ctx.admission = admitted;
    reply.raw.once("close", () => admitted.release());
    const pending = credentials.authenticate(req.headers.authorization);
    const auth = "then" in pending ? await pending : pending;
    if (!auth.ok) return replyWithError(reply, ctx, recorder, auth.error);
    ctx.principal = auth.value;
    ctx.capture = audit.capture(auth.value.tenant.auditContent);
  };

  app.setErrorHandler(async (err: FastifyError, req, reply) => {
    const error = errorFromFastify(err, config.bodyLimitBytes);
    if (error.status >= 500) log.error({ err, url: req.url }, "request failed");
    const ctx = contexts.get(req);
    if (reply.sent || reply.raw.headersSent) {
      if (ctx && !ctx.audited) await recorder.record(ctx, { decision: "failed", reason: `internal_error: ${err.message}`, status: reply.raw.statusCode, retries: 0, entry: null, promptTokens: null, completionTokens: null });
      reply.raw.destroy();
      return;
    }
    if (ctx && !ctx.audited) {
      return replyWithError(reply, ctx, recorder, error, { decision: error.status >= 500 ? "failed" : "denied" });
    }
    return reply.code(error.status).type("application/json; charset=utf-8").send(openAiErrorBody(error));
  });
  app.setNotFoundHandler(async (req, reply) => {
    const e = unknownUrl(req.method, req.url.split("?")[0] ?? "");
    return reply.code(e.status).type("application/json; charset=utf-8").send(openAiErrorBody(e));
  });

  registerObservability(app, registry, () => (table === null ? "no route table received from the scheduler yet" : audit.notReadyBecause()));

  const generationDeps: GenerationDeps = {
    bodyLimitBytes: config.bodyLimitBytes,
    maxRetries: config.proxy.maxRetries,
    totalTimeoutMs: config.proxy.totalTimeoutMs,
    dispatcher: agent,
    inflight,
    breakers,
    admission,
    rateLimiter: new TenantRateLimiter(),
    routing: { weights: config.routing.weights, maxImbalance: config.routing.affinityMaxImbalance, prefixChars: config.routing.affinityPrefixChars },
    metrics,
    recorder,
    table: () => table,
    context: contextOf,
  };
  app.post("/v1/chat/completions", { onRequest: authenticated("chat.completions") }, generationHandler("chat", generationDeps));
  app.post("/v1/completions", { onRequest: authenticated("completions") }, generationHandler("completion", generationDeps));
  app.post("/v1/embeddings", { onRequest: authenticated("embeddings") }, generationHandler("embedding", generationDeps));
  app.get("/v1/models", { onRequest: authenticated("models.list") }, async (req, reply) => {
    const ctx = contextOf(req);
    if (table === null) return replyWithError(reply, ctx, recorder, notReady());
    // Listing is not a decision on anyone's data: only its denials are audited.
    return listModels(ctx.principal!.tenant, table);
  });

  let watch: { stop(): Promise<void> } | undefined;
  const listeners: RunningListener[] = [];
  const connections = new Set<import("node:net").Socket>();
  const tune = (s: Server) => {
    s.keepAliveTimeout = 65_000;
    s.headersTimeout = 30_000;
    s.requestTimeout = 0;
    s.on("connection", (c) => {
      connections.add(c);
      c.once("close", () => connections.delete(c));
    });
  };
  try {
    await app.ready();
    const handler = app.routing.bind(app);
    for (const l of [config.listen, ...config.listeners]) listeners.push(await startListener(l, handler, tune));
    if (config.scheduler && schedulerToken !== null) {
      watch = startRouteWatch({
        schedulerUrl: config.scheduler.url,
        token: schedulerToken,
        waitMs: config.scheduler.watchTimeoutMs,
        dispatcher: schedulerAgent,
        log,
        current: () => table,
        adopt: (t) => {
          table = t;
          metrics.tableVersion.set(t.version);
        },
        confirmed: () => {
          confirmedAt = Date.now();
        },
      });
    }
  } catch (e) {
    for (const l of listeners) await closeListener(l).catch(() => undefined);
    await app.close().catch(() => undefined);
    await agent.close().catch(() => undefined);
    if (schedulerAgent !== agent) await schedulerAgent.close().catch(() => undefined);
    credentials.close();
    await audit.close().catch(() => undefined);
    throw e;
  }

  const reload = async () => {
    await credentials.reload(true);
    for (const l of listeners) {
      try {
        l.reloadTls();
      } catch (e) {
        log.error({ err: (e as Error).message, url: l.url }, "TLS reload failed; keeping the current certificate");
      }
    }
  };
  const onHup = () => {
    log.info("SIGHUP: reloading credentials and certificates");
    void reload();
  };
  process.on("SIGHUP", onHup);

  let closing: Promise<void> | undefined;
  return {
    url: listeners[0]!.url,
    urls: listeners.map((l) => l.url),
    routes: () => table ?? EMPTY_ROUTE_TABLE,
    reload,
    close() {
      closing ??= (async () => {
        process.off("SIGHUP", onHup);
        await watch?.stop();
        const closed = Promise.all(listeners.map((l) => closeListener(l)));
        // Open streams get a moment to finish, then their connections are cut.
        const grace = setTimeout(() => {
          for (const c of connections) c.destroy();
        }, 2000);
        await closed;
        clearTimeout(grace);
        await app.close();
        await agent.close();
        if (schedulerAgent !== agent) await schedulerAgent.close();
        credentials.close();
        await audit.close();
      })();
      return closing;
    },
  };
}

/** Errors fastify raises before the handler (body parsing, limits) as OpenAI-style errors. */
function errorFromFastify(err: FastifyError, bodyLimitBytes: number): GatewayError {
  const status = err.statusCode ?? 500;
  if (status === 413) return requestTooLarge(bodyLimitBytes);
  if (status >= 400 && status < 500) return invalidBody(`Invalid request: ${err.message}`, null);
  return internalError(err.message);
}

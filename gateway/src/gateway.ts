import { AuditLog } from "@enclave/audit";
import { EMPTY_ROUTE_TABLE, type GatewayConfig, type RouteTable } from "@enclave/contracts";
import { createLogger, createRegistry, readSecret, registerObservability, type Logger } from "@enclave/runtime";
import Fastify, { LogController, type FastifyBaseLogger, type FastifyError, type FastifyReply, type FastifyRequest } from "fastify";
import { Agent } from "undici";
import { internalError, invalidBody, notReady, openAiErrorBody, requestTooLarge, unknownUrl, type GatewayError } from "./errors.js";
import { InFlight } from "./inflight.js";
import { createGatewayMetrics } from "./metrics.js";
import { createOutcomeRecorder, replyWithError } from "./outcome-recorder.js";
import { newRequestContext, type AuditedAction, type RequestContext } from "./request-context.js";
import { chatCompletionsHandler } from "./routes/chat-completions.js";
import { listModels } from "./routes/models.js";
import { startRouteWatch } from "./route-watch.js";
import { authenticate, buildKeyIndex } from "./steps/authenticate.js";

export interface Gateway {
  readonly url: string;
  /** The route table in use (the empty table before the first arrived). */
  routes(): RouteTable;
  close(): Promise<void>;
}

/**
 * Assembles the gateway: the audit log, the engine connection pools, the HTTP
 * server with one registration per concern, and the route watch. Fails (having
 * released what it opened) when the config's secrets, keys or audit file are unusable.
 */
export async function startGateway(config: GatewayConfig, deps: { log?: Logger } = {}): Promise<Gateway> {
  const log = deps.log ?? createLogger("gateway", config.logLevel);
  const schedulerToken = readSecret(config.scheduler.token);
  const keys = buildKeyIndex(config.tenants);
  const audit = await AuditLog.open(config.audit.file, config.id);
  if (audit.repairedBytes > 0) {
    log.warn({ file: config.audit.file, bytes: audit.repairedBytes }, "cut a torn tail off the audit log");
  }

  let table: RouteTable | null = null;
  let confirmedAt: number | null = null;
  const registry = createRegistry("gateway");
  const metrics = createGatewayMetrics(registry, () => (confirmedAt === null ? Infinity : (Date.now() - confirmedAt) / 1000));
  const recorder = createOutcomeRecorder(audit, metrics, log);
  const inflight = new InFlight();
  const agent = new Agent({
    connect: { timeout: config.proxy.connectTimeoutMs },
    headersTimeout: config.proxy.headersTimeoutMs,
    bodyTimeout: config.proxy.bodyTimeoutMs,
    keepAliveTimeout: 30_000,
  });

  const app = Fastify({
    loggerInstance: log as FastifyBaseLogger,
    // The hot path stays quiet: per-request facts go to the audit log and metrics.
    logController: new LogController({ disableRequestLogging: true }),
    bodyLimit: config.bodyLimitBytes,
    return503OnClosing: true,
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
    const auth = authenticate(req.headers.authorization, keys);
    if (!auth.ok) return replyWithError(reply, ctx, recorder, auth.error);
    ctx.principal = auth.value;
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

  registerObservability(app, registry, () => (table === null ? "no route table received from the scheduler yet" : undefined));

  app.post(
    "/v1/chat/completions",
    { onRequest: authenticated("chat.completions") },
    chatCompletionsHandler({
      bodyLimitBytes: config.bodyLimitBytes,
      maxRetries: config.proxy.maxRetries,
      dispatcher: agent,
      inflight,
      metrics,
      recorder,
      table: () => table,
      context: contextOf,
    }),
  );
  app.get("/v1/models", { onRequest: authenticated("models.list") }, async (req, reply) => {
    const ctx = contextOf(req);
    if (table === null) return replyWithError(reply, ctx, recorder, notReady());
    // Listing is not a decision on anyone's data: only its denials are audited.
    return listModels(ctx.principal!.tenant, table);
  });

  let watch: { stop(): Promise<void> } | undefined;
  try {
    await app.listen({ host: config.listen.host, port: config.listen.port });
    watch = startRouteWatch({
      schedulerUrl: config.scheduler.url,
      token: schedulerToken,
      waitMs: config.scheduler.watchTimeoutMs,
      dispatcher: agent,
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
  } catch (e) {
    await app.close().catch(() => undefined);
    await agent.close().catch(() => undefined);
    await audit.close().catch(() => undefined);
    throw e;
  }

  const address = app.server.address();
  const port = typeof address === "object" && address ? address.port : config.listen.port;
  const host = config.listen.host.includes(":") ? `[${config.listen.host}]` : config.listen.host;
  let closing: Promise<void> | undefined;
  return {
    url: `http://${host}:${port}`,
    routes: () => table ?? EMPTY_ROUTE_TABLE,
    close() {
      closing ??= (async () => {
        await watch?.stop();
        await app.close();
        await agent.close();
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

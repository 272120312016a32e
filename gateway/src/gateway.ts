import { readFileSync } from "node:fs";
import type { IncomingMessage, Server, ServerResponse } from "node:http";
import { registerAuditMetrics } from "@enclave/audit";
import { EMPTY_ROUTE_TABLE, type GatewayConfig, type RouteTable } from "@enclave/contracts";
import { createLogger, createRegistry, readSecret, registerObservability, type Logger } from "@enclave/runtime";
import Fastify, { LogController, type FastifyBaseLogger } from "fastify";
import { Agent } from "undici";
import { CredentialStore } from "./auth/credentials.js";
import { egressPolicy } from "./egress/policy.js";
import { openAiErrorBody, unknownUrl } from "./errors.js";
import { InFlight } from "./inflight.js";
import { AdmissionControl } from "./limits/admission.js";
import { TenantRateLimiter } from "./limits/rate-limit.js";
import { closeListener, startListener, type RunningListener } from "./listeners.js";
import { auditUnavailable, openGatewayAudit } from "./gateway-audit.js";
import { createGatewayMetrics } from "./metrics.js";
import { createOutcomeRecorder } from "./outcome-recorder.js";
import { createDataPath } from "./routes/data-path.js";
import { startRouteWatch } from "./route-watch.js";
import { compileRoutes, type Routes } from "./routing/backends.js";
import { Breakers } from "./routing/breaker.js";
import { staticRouteTable } from "./static-routes.js";
import { createUpstreamClient } from "./upstream/client.js";

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
 * the data path (the client API on plain node:http), the control plane (health,
 * readiness, metrics on fastify), the listeners and the route source (the
 * scheduler's watch, or static routes), each route table compiled once against the
 * egress policy. Fails (having released
 * what it opened) when the config's secrets, keys, certificates or audit file are
 * unusable. SIGHUP reloads credentials and certificates without dropping connections.
 */
export async function startGateway(config: GatewayConfig, deps: { log?: Logger } = {}): Promise<Gateway> {
  const log = deps.log ?? createLogger("gateway", config.logLevel);
  const schedulerToken = config.scheduler ? readSecret(config.scheduler.token) : null;
  const egress = egressPolicy(config.egress);
  if (egress === null) log.warn("egress is unrestricted: no egress.backends configured, so the gateway dials any backend address the route table names");
  const credentials = await CredentialStore.open(config, log);
  const audit = await openGatewayAudit(config, log);

  const registry = createRegistry("gateway");
  registerAuditMetrics(registry, () => audit.stats());
  const admission = new AdmissionControl(config.limits.maxConcurrent, config.limits.maxQueue, config.limits.queueTimeoutMs);
  let routes: Routes | null = null;
  let confirmedAt: number | null = config.staticRoutes ? Date.now() : null;
  const metrics = createGatewayMetrics(
    registry,
    () => (config.staticRoutes ? 0 : confirmedAt === null ? Infinity : (Date.now() - confirmedAt) / 1000),
    () => ({ inflight: admission.inflight, queued: admission.queued }),
  );
  // A refused backend is logged and counted once, when it first appears, not on every request.
  let refusedBefore = new Set<string>();
  const adopt = (table: RouteTable) => {
    routes = compileRoutes(table, egress);
    const now = new Set<string>();
    for (const r of routes.refused) {
      const key = `${r.entry.backendId} ${r.entry.url} ${r.reason}`;
      now.add(key);
      if (refusedBefore.has(key)) continue;
      metrics.egressRefused.inc({ reason: r.reason });
      log.warn({ backend: r.entry.backendId, url: r.entry.url, reason: r.reason, detail: r.detail }, "egress: backend refused, it will not be dialled");
    }
    refusedBefore = now;
    metrics.tableVersion.set(table.version);
  };
  if (config.staticRoutes) adopt(staticRouteTable(config.staticRoutes));
  const recorder = createOutcomeRecorder(audit, metrics, log);
  const inflight = new InFlight();
  const breakers = new Breakers(config.breaker, (backend, state) => {
    metrics.breakerOpen.set({ backend }, state === "open" ? 1 : state === "half-open" ? 0.5 : 0);
    log.warn({ backend, state }, "circuit breaker changed");
  });
  const client = createUpstreamClient({ connectMs: config.proxy.connectTimeoutMs, headersMs: config.proxy.headersTimeoutMs, bodyMs: config.proxy.bodyTimeoutMs });
  // The scheduler's watch verifies its certificate against the configured CA when it speaks TLS.
  const schedulerAgent = new Agent({
    connect: { timeout: config.proxy.connectTimeoutMs, ...(config.scheduler?.ca ? { ca: readFileSync(config.scheduler.ca), rejectUnauthorized: true } : {}) },
  });

  const dataPath = createDataPath({
    bodyLimitBytes: config.bodyLimitBytes,
    maxRetries: config.proxy.maxRetries,
    totalTimeoutMs: config.proxy.totalTimeoutMs,
    client,
    inflight,
    breakers,
    admission,
    rateLimiter: new TenantRateLimiter(),
    routing: { weights: config.routing.weights, maxImbalance: config.routing.affinityMaxImbalance, prefixChars: config.routing.affinityPrefixChars },
    metrics,
    recorder,
    routes: () => routes,
    credentials,
    audit,
    log,
  });

  // Health, readiness, metrics and unknown URLs: the control plane, on fastify (off the hot path).
  const app = Fastify({
    loggerInstance: log as FastifyBaseLogger,
    logController: new LogController({ disableRequestLogging: true }),
  });
  app.setNotFoundHandler(async (req, reply) => {
    const e = unknownUrl(req.method, req.url.split("?")[0] ?? "");
    return reply.code(e.status).type("application/json; charset=utf-8").send(openAiErrorBody(e));
  });
  registerObservability(app, registry, () => (routes === null ? "no route table received from the scheduler yet" : audit.notReadyBecause()));

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
    const controlPlane = app.routing.bind(app);
    const handler = (req: IncomingMessage, res: ServerResponse) => {
      if (!dataPath(req, res)) controlPlane(req, res);
    };
    for (const l of [config.listen, ...config.listeners]) listeners.push(await startListener(l, handler, tune));
    if (config.scheduler && schedulerToken !== null) {
      watch = startRouteWatch({
        schedulerUrl: config.scheduler.url,
        token: schedulerToken,
        waitMs: config.scheduler.watchTimeoutMs,
        dispatcher: schedulerAgent,
        log,
        current: () => routes?.table ?? null,
        adopt,
        confirmed: () => {
          confirmedAt = Date.now();
        },
      });
    }
  } catch (e) {
    for (const l of listeners) await closeListener(l).catch(() => undefined);
    await app.close().catch(() => undefined);
    client.close();
    await schedulerAgent.close().catch(() => undefined);
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
    routes: () => routes?.table ?? EMPTY_ROUTE_TABLE,
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
        client.close();
        await schedulerAgent.close();
        credentials.close();
        await audit.close();
      })();
      return closing;
    },
  };
}

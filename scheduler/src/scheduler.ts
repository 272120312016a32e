import { readFileSync } from "node:fs";
import { registerAuditMetrics } from "@enclave/audit";
import type { NodeStatus, SchedulerConfig } from "@enclave/contracts";
import { createLogger, createRegistry, registerObservability, type Logger } from "@enclave/runtime";
import type { Redis } from "ioredis";
import Fastify, { LogController, type FastifyBaseLogger, type FastifyInstance } from "fastify";
import { OperatorAudit } from "./audit/operator-audit.js";
import { ControlLoop } from "./control-loop.js";
import { DeploymentStore } from "./deployments/deployment-store.js";
import { Authenticator } from "./http/auth.js";
import { registerCapacityApi } from "./http/capacity-api.js";
import { registerDeploymentApi } from "./http/deployment-api.js";
import { registerErrorHandlers } from "./http/errors.js";
import { registerNodeApi } from "./http/node-api.js";
import { MAX_ROUTE_WAIT_MS, registerRouteApi } from "./http/route-api.js";
import { LeaderLease } from "./leader-lease.js";
import { createSchedulerMetrics } from "./metrics.js";
import { AssignmentStore } from "./reconcile/assignment-store.js";
import { NodeQueues } from "./reconcile/node-queues.js";
import { Reconciler } from "./reconcile/reconciler.js";
import { StatusStore } from "./reconcile/status-store.js";
import { connectRedis } from "./redis-connection.js";
import { keys } from "./redis-keys.js";
import { CordonStore } from "./registry/cordon-store.js";
import { NodeStore } from "./registry/node-store.js";
import { drainedNodes } from "./routes/drained-nodes.js";
import { RoutePublisher } from "./routes/route-publisher.js";
import { RouteStore } from "./routes/route-store.js";
import { RouteWatchers } from "./routes/route-watchers.js";

export interface Scheduler {
  readonly url: string;
  /** The metrics-only listener's address, when `metricsListen` is set. */
  readonly metricsUrl: string | undefined;
  close(): Promise<void>;
}

/** Route long-polls held at once; past this a watcher is told to retry. */
const MAX_ROUTE_WATCHERS = 10_000;

/**
 * Starts the scheduler: HTTP API (TLS when configured), node registry, deployments, route
 * table, and (while it holds the lease) the reconcile loop.
 */
export async function startScheduler(config: SchedulerConfig, deps: { log?: Logger } = {}): Promise<Scheduler> {
  const log = deps.log ?? createLogger("scheduler", config.logLevel);
  // Files first: a missing certificate, an unusable audit spool or a bad audit key stops the start with a clear error.
  const https = config.tls ? { cert: readPem(config.tls.certFile, "tls.certFile"), key: readPem(config.tls.keyFile, "tls.keyFile") } : undefined;
  const audit = config.audit ? await OperatorAudit.open(config.audit, log) : undefined;
  if (audit === undefined) log.warn("no audit configured: operator actions (deploy, delete, drain, uncordon) are refused");
  else if (Object.keys(config.audit!.sinks).length === 0) log.warn({ spool: config.audit!.spool.dir }, "no audit sinks configured: operator action records stay in the local spool");

  const redis = connectRedis(config.redis, log);
  const registry = createRegistry("scheduler");
  if (audit) registerAuditMetrics(registry, () => audit.stats());
  // The live nodes as the last route refresh read them, for the heartbeat-age gauge.
  let liveNodes: readonly NodeStatus[] = [];
  const metrics = createSchedulerMetrics(registry, { routeWatchers: () => watchers.size, liveNodes: () => liveNodes });
  const auth = new Authenticator(config.auth);
  const unpinned = config.auth.nodes.filter((n) => n.region === undefined || n.jurisdiction === undefined).map((n) => n.id);
  if (unpinned.length > 0) log.warn({ nodes: unpinned.slice(0, 20), count: unpinned.length }, "nodes without a configured region and jurisdiction (auth.nodes[].region/jurisdiction): their reports are trusted on where they are");

  const nodes = new NodeStore(redis, config.nodeTtlMs, log);
  const deployments = new DeploymentStore(redis, log);
  const cordons = new CordonStore(redis, log);
  const assignments = new AssignmentStore(redis, log);
  const status = new StatusStore(redis);
  const queues = new NodeQueues(redis, log);
  const watchers = new RouteWatchers(MAX_ROUTE_WATCHERS, () => routes.current);
  const routes: RoutePublisher = new RoutePublisher({
    nodes,
    store: new RouteStore(redis),
    deployments: async () => (await deployments.all()).specs,
    draining: () => drainedNodes(cordons, status),
    onPublish: (table) => {
      metrics.routeTableVersion.set(table.version);
      watchers.publish(table);
    },
    onNodes: (live) => {
      liveNodes = live;
      metrics.nodes.reset();
      for (const n of live) metrics.nodes.inc({ region: n.region });
    },
    onError: (e) => log.warn({ err: { message: e.message } }, "route refresh failed"),
  });
  const lease = new LeaderLease(redis, keys.leader, keys.leaderFence, Math.max(3 * config.reconcileIntervalMs, 3000));
  const loop = new ControlLoop({
    intervalMs: config.reconcileIntervalMs,
    lease,
    reconciler: new Reconciler({
      deployments,
      configDeployments: config.deployments,
      nodes,
      cordons,
      assignments,
      status,
      queues,
      lease,
      metrics,
      log,
      options: { strategy: config.placement.strategy, startTimeoutMs: config.placement.startTimeoutMs, backoff: config.placement.failureBackoff },
      resendAfterMs: Math.max(5 * config.reconcileIntervalMs, 500),
    }),
    routes,
    metrics,
    log,
  });

  const app = Fastify({
    ...(https ? { https } : {}),
    loggerInstance: log as FastifyBaseLogger,
    // Heartbeats and long-polls would flood the log; failures are logged where they are handled.
    logController: new LogController({ disableRequestLogging: true }),
    requestTimeout: MAX_ROUTE_WAIT_MS + 30000,
  }) as unknown as FastifyInstance;
  registerErrorHandlers(app);
  const notReadyBecause = () => (redis.status === "ready" ? undefined : `redis is ${redis.status}`);
  registerObservability(app, registry, notReadyBecause);
  // Metrics only, no API: what the logging segment may reach (DESIGN §1).
  const metricsApp = config.metricsListen ? (Fastify({ ...(https ? { https } : {}), logger: false }) as unknown as FastifyInstance) : undefined;
  if (metricsApp) registerObservability(metricsApp, registry, notReadyBecause);
  registerNodeApi(app, {
    auth,
    nodes,
    cordons,
    assignments,
    audit,
    metrics,
    log,
    onReport: () => routes.requestRefresh(),
    onCordonChange: () => routes.requestRefresh(),
  });
  registerRouteApi(app, { auth, current: () => routes.current, json: (t) => routes.json(t), watchers });
  registerDeploymentApi(app, { auth, deployments, status, audit, log, onChange: () => routes.requestRefresh() });
  registerCapacityApi(app, { auth, status, log });

  // Give Redis a moment so the first answers carry the stored route table; start anyway if it is away.
  await readyWithin(redis, 2000);
  if (redis.status === "ready") await seedDeployments(deployments, config, log);
  let address: string;
  let metricsAddress: string | undefined;
  try {
    address = await app.listen({ host: config.listen.host, port: config.listen.port });
    if (metricsApp && config.metricsListen) metricsAddress = await metricsApp.listen({ host: config.metricsListen.host, port: config.metricsListen.port });
  } catch (e) {
    await app.close();
    await metricsApp?.close();
    redis.disconnect();
    await audit?.close();
    throw e;
  }
  loop.start();
  log.info({ deployments: config.deployments.length, nodesAllowed: config.auth.nodes.length, tls: https !== undefined }, "scheduler started");

  let closing: Promise<void> | undefined;
  return {
    url: address,
    metricsUrl: metricsAddress,
    close: () =>
      (closing ??= (async () => {
        await loop.stop();
        await routes.close();
        watchers.close();
        await app.close();
        await metricsApp?.close();
        await queues.close();
        await lease.release().catch(() => undefined);
        await redis.quit().catch(() => redis.disconnect());
        await audit?.close();
      })()),
  };
}

/**
 * Config deployments are written into Redis at start when Redis holds none of that name; the
 * stored one stands otherwise (the API owns a deployment once it exists). A file that differs
 * from what is stored is worth a warning: the operator may expect the file to win.
 */
async function seedDeployments(store: DeploymentStore, config: SchedulerConfig, log: Logger): Promise<void> {
  if (config.deployments.length === 0) return;
  try {
    const r = await store.seed(config.deployments, Date.now());
    if (r.written.length > 0) log.info({ deployments: r.written }, "config deployments written to redis");
    if (r.differing.length > 0) {
      log.warn({ deployments: r.differing }, "config deployments differ from the stored ones; the stored ones stand (use `enclave deploy apply` to change them)");
    }
  } catch (e) {
    // The leader seeds on its first pass when Redis turns out to hold nothing.
    log.warn({ err: { message: (e as Error).message } }, "could not seed config deployments now");
  }
}

function readPem(file: string, what: string): Buffer {
  try {
    return readFileSync(file);
  } catch (e) {
    throw new Error(`${what} ${file}: cannot read (${(e as NodeJS.ErrnoException).code ?? "error"})`);
  }
}

function readyWithin(redis: Redis, ms: number): Promise<void> {
  if (redis.status === "ready") return Promise.resolve();
  return new Promise((resolve) => {
    const done = () => {
      clearTimeout(timer);
      redis.off("ready", done);
      resolve();
    };
    const timer = setTimeout(done, ms);
    redis.once("ready", done);
  });
}

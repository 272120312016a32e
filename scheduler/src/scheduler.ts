import type { SchedulerConfig } from "@enclave/contracts";
import { createLogger, createRegistry, registerObservability, type Logger } from "@enclave/runtime";
import type { Redis } from "ioredis";
import Fastify, { LogController, type FastifyBaseLogger } from "fastify";
import { ControlLoop } from "./control-loop.js";
import { principalTokens } from "./http/auth.js";
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
import { NodeStore } from "./registry/node-store.js";
import { RoutePublisher } from "./routes/route-publisher.js";
import { RouteStore } from "./routes/route-store.js";
import { RouteWatchers } from "./routes/route-watchers.js";

export interface Scheduler {
  readonly url: string;
  close(): Promise<void>;
}

/** Route long-polls held at once; past this a watcher is told to retry. */
const MAX_ROUTE_WATCHERS = 10_000;

/** Starts the scheduler: HTTP API, node registry, route table, and (while it holds the lease) the reconcile loop. */
export async function startScheduler(config: SchedulerConfig, deps: { log?: Logger } = {}): Promise<Scheduler> {
  const log = deps.log ?? createLogger("scheduler", config.logLevel);
  const redis = connectRedis(config.redis, log);
  const registry = createRegistry("scheduler");
  const metrics = createSchedulerMetrics(registry, { routeWatchers: () => watchers.size });
  const tokens = principalTokens(config.auth);

  const nodes = new NodeStore(redis, config.nodeTtlMs, log);
  const status = new StatusStore(redis);
  const queues = new NodeQueues(redis, log);
  const watchers = new RouteWatchers(MAX_ROUTE_WATCHERS, () => routes.current);
  const routes: RoutePublisher = new RoutePublisher({
    nodes,
    store: new RouteStore(redis),
    deployments: config.deployments,
    onPublish: (table) => {
      metrics.routeTableVersion.set(table.version);
      watchers.publish(table);
    },
    onNodes: (live) => {
      metrics.nodes.reset();
      for (const n of live) metrics.nodes.inc({ region: n.region });
    },
  });
  const lease = new LeaderLease(redis, keys.leader, Math.max(3 * config.reconcileIntervalMs, 3000));
  const loop = new ControlLoop({
    intervalMs: config.reconcileIntervalMs,
    lease,
    reconciler: new Reconciler({
      deployments: config.deployments,
      nodes,
      assignments: new AssignmentStore(redis, log),
      status,
      queues,
      metrics,
      log,
      resendAfterMs: Math.max(5 * config.reconcileIntervalMs, 500),
    }),
    routes,
    metrics,
    log,
  });

  const app = Fastify({
    loggerInstance: log as FastifyBaseLogger,
    // Heartbeats and long-polls would flood the log; failures are logged where they are handled.
    logController: new LogController({ disableRequestLogging: true }),
    requestTimeout: MAX_ROUTE_WAIT_MS + 30000 });
  registerErrorHandlers(app);
  registerObservability(app, registry, () => (redis.status === "ready" ? undefined : `redis is ${redis.status}`));
  registerNodeApi(app, {
    tokens,
    nodes,
    metrics,
    log,
    onReport: () => void routes.refresh().catch((e: Error) => log.warn({ err: { message: e.message } }, "route refresh after a heartbeat failed")),
  });
  registerRouteApi(app, { tokens, current: () => routes.current, watchers });
  registerDeploymentApi(app, { tokens, status, deployments: config.deployments, log });

  // Give Redis a moment so the first answers carry the stored route table; start anyway if it is away.
  await readyWithin(redis, 2000);
  let address: string;
  try {
    address = await app.listen({ host: config.listen.host, port: config.listen.port });
  } catch (e) {
    redis.disconnect();
    throw e;
  }
  loop.start();
  log.info({ deployments: config.deployments.length, nodesAllowed: config.auth.nodes.length }, "scheduler started");

  let closing: Promise<void> | undefined;
  return {
    url: address,
    close: () =>
      (closing ??= (async () => {
        await loop.stop();
        watchers.close();
        await app.close();
        await queues.close();
        await lease.release().catch(() => undefined);
        await redis.quit().catch(() => redis.disconnect());
      })()),
  };
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

import type { FastifyInstance } from "fastify";
import { Registry, collectDefaultMetrics } from "prom-client";

export interface Readiness {
  /** undefined when ready, otherwise why not. */
  (): string | undefined;
}

/** A registry with Node's process metrics, prefixed for this process kind. */
export function createRegistry(component: string): Registry {
  const registry = new Registry();
  registry.setDefaultLabels({ component });
  // prom-client samples event-loop delay with a 10 ms timer by default: 100 wake-ups a second
  // in every idle gateway and scheduler. 100 ms still shows any stall that matters. (The agent
  // keeps its own registry, sampled once a second: node-agent/src/metrics/agent-registry.ts.)
  collectDefaultMetrics({ register: registry, eventLoopMonitoringPrecision: 100 });
  return registry;
}

/** `/healthz` (process alive), `/readyz` (can do its job) and `/metrics` for every process. */
export function registerObservability(app: FastifyInstance, registry: Registry, notReadyBecause: Readiness): void {
  app.get("/healthz", async () => ({ status: "ok" }));
  app.get("/readyz", async (_req, reply) => {
    const why = notReadyBecause();
    if (why) return reply.code(503).send({ status: "not ready", reason: why });
    return { status: "ready" };
  });
  app.get("/metrics", async (_req, reply) => {
    reply.header("content-type", registry.contentType);
    return registry.metrics();
  });
}

import { hostname } from "node:os";
import type { AgentConfig, Backend, GpuTelemetry, NodeReport } from "@enclave/contracts";
import { createLogger, createRegistry, readSecret, registerObservability, type Logger } from "@enclave/runtime";
import type { Worker } from "bullmq";
import Fastify from "fastify";
import { Redis } from "ioredis";
import { BackendSet, urlHost } from "./backends/backend-set.js";
import type { EngineDriver } from "./engine/engine-driver.js";
import { httpEngineProbe } from "./engine/engine-probe.js";
import { ProcessEngineDriver } from "./engine/process-engine-driver.js";
import { sampleGpus, type GpuSample, type GpuSource } from "./gpu/gpu-source.js";
import { SimGpuSource } from "./gpu/sim-gpu-source.js";
import { HeartbeatLoop } from "./heartbeat/heartbeat-loop.js";
import { startNodeJobWorker } from "./jobs/node-job-worker.js";
import { AgentMetrics } from "./metrics/agent-metrics.js";
import { buildNodeReport } from "./report/node-report.js";
import { AGENT_VERSION } from "./version.js";

export interface Agent {
  /** Where /healthz, /readyz and /metrics are served. */
  readonly url: string;
  /** The report the next heartbeat would send, with the GPUs as last read. */
  report(): NodeReport;
  /** Stops jobs, heartbeats, every engine, the HTTP server and Redis. Idempotent. */
  close(): Promise<void>;
}

export interface AgentDeps {
  log?: Logger;
  gpuSource?: GpuSource;
  driver?: EngineDriver;
}

/** SIGTERM-to-SIGKILL grace for engines: vLLM drains in-flight requests within it, and it fits the CLI's 10 s shutdown budget. */
const ENGINE_STOP_GRACE_MS = 5_000;

/** No step of close() may hang it for longer (a Redis that went away, say). */
const CLOSE_STEP_MS = 5_000;

/** Starts a node agent; resolves once its HTTP endpoints listen. Throws on unusable config (missing secret, taken port). */
export async function startAgent(config: AgentConfig, deps: AgentDeps = {}): Promise<Agent> {
  const log = deps.log ?? createLogger("agent", config.logLevel);
  const { nodeId, region, jurisdiction } = config;
  // Secrets are read up front: a missing one is a configuration error, not a run-time surprise.
  const token = readSecret(config.scheduler.token);
  const redisPassword = config.redis.password ? readSecret(config.redis.password) : undefined;

  const cleanups: (() => Promise<unknown>)[] = [];
  const cleanup = async () => {
    for (const c of cleanups.splice(0).reverse()) await c().catch((e: unknown) => log.error({ err: e }, "cleanup failed"));
  };

  try {
    const registry = createRegistry("agent");
    let gpuSample: GpuSample = { ok: false, error: "not read yet" };
    let heartbeat: HeartbeatLoop | undefined;
    let metrics: AgentMetrics | undefined;
    let accepted = false;

    const probeTimeoutMs = Math.min(10_000, Math.max(2_000, 2 * config.engines.healthIntervalMs));
    const probe = httpEngineProbe(probeTimeoutMs);
    cleanups.push(() => probe.close());
    const backends = new BackendSet({
      nodeId,
      driver:
        deps.driver ??
        new ProcessEngineDriver({ host: config.engines.host, sim: config.engines.sim, listenTimeoutMs: config.engines.startupTimeoutMs, log }),
      probe,
      engines: config.engines,
      stopGraceMs: ENGINE_STOP_GRACE_MS,
      log,
      onStateChange: () => heartbeat?.trigger(),
      onRestart: () => metrics?.engineRestarted(),
    });
    cleanups.push(() => backends.close());

    const gpuSource = deps.gpuSource ?? new SimGpuSource({ nodeId, count: config.gpus.count, model: config.gpus.model }, () => backends.list());
    const gpuTimeoutMs = config.scheduler.timeoutMs;
    const refreshGpus = async () => {
      gpuSample = await sampleGpus(gpuSource, gpuTimeoutMs);
      if (!gpuSample.ok) log.warn({ err: gpuSample.error }, "cannot read GPUs");
    };
    await refreshGpus();

    const identity = { nodeId, region, jurisdiction, agentVersion: AGENT_VERSION };
    const report = (): NodeReport => buildNodeReport(identity, Date.now(), gpuSample, backends.list());
    const lastGpus = (): GpuTelemetry[] => (gpuSample.ok ? gpuSample.gpus : []);
    metrics = new AgentMetrics(registry, { node: nodeId, region, hostname: hostname() }, { backends: (): Backend[] => backends.list(), gpus: lastGpus });

    const app = Fastify({ logger: false });
    registerObservability(app, registry, () => (accepted ? undefined : "no heartbeat accepted by the scheduler yet"));
    await app.listen({ host: config.listen.host, port: config.listen.port });
    cleanups.push(() => app.close());
    const address = app.server.address();
    const port = typeof address === "object" && address ? address.port : config.listen.port;
    const url = `http://${urlHost(config.listen.host)}:${port}`;

    const redis = new Redis(config.redis.url, { maxRetriesPerRequest: null, ...(redisPassword !== undefined ? { password: redisPassword } : {}) });
    let lastRedisError = "";
    redis.on("error", (e: Error) => {
      // ioredis retries on its own; one line per distinct error is enough.
      if (e.message !== lastRedisError) log.warn({ err: e.message }, "redis connection error");
      lastRedisError = e.message;
    });
    redis.on("ready", () => (lastRedisError = ""));
    cleanups.push(async () => {
      // quit() waits for queued commands, which never drain while Redis is away.
      await within(redis.quit(), CLOSE_STEP_MS).catch(() => {});
      redis.disconnect();
    });

    const worker: Worker = startNodeJobWorker({
      nodeId,
      connection: redis,
      log,
      ctx: {
        backends,
        gpuUuids: () => (gpuSample.ok ? gpuSample.gpus.map((g) => g.uuid) : undefined),
        startupTimeoutMs: config.engines.startupTimeoutMs,
        // The supervisor notices the deadline at its next probe, which may itself take the probe timeout.
        verdictSlackMs: probeTimeoutMs + 2 * config.engines.healthIntervalMs,
      },
    });
    cleanups.push(() => within(worker.close(), CLOSE_STEP_MS));

    heartbeat = new HeartbeatLoop({
      url: `${config.scheduler.url.replace(/\/+$/, "")}/v1/nodes/${encodeURIComponent(nodeId)}/heartbeat`,
      token,
      intervalMs: config.scheduler.heartbeatIntervalMs,
      timeoutMs: config.scheduler.timeoutMs,
      log,
      collect: async () => {
        await refreshGpus();
        return report();
      },
      onResult: (result) => {
        metrics?.heartbeat(result);
        if (result === "ok" && !accepted) {
          accepted = true;
          log.info("scheduler accepted the first heartbeat");
        }
      },
    });
    const hb = heartbeat;
    hb.start();
    log.info({ nodeId, region, url }, "agent started");

    let closing: Promise<void> | undefined;
    return {
      url,
      report,
      close: () =>
        (closing ??= (async () => {
          log.info("agent stopping");
          await hb.close();
          // Closing the worker takes no new jobs and waits for running ones; start jobs
          // waiting for an engine end as soon as the engines are stopped, so stop those meanwhile.
          const workerClosed = worker.close();
          await backends.close();
          await within(workerClosed, CLOSE_STEP_MS).catch((e: unknown) => log.error({ err: e }, "job worker did not close cleanly"));
          await cleanup();
          log.info("agent stopped");
        })()),
    };
  } catch (e) {
    await cleanup();
    throw e;
  }
}

/** Resolves or rejects like `p`, but rejects after `ms` at the latest. */
function within<T>(p: Promise<T>, ms: number): Promise<T> {
  let timer: NodeJS.Timeout | undefined;
  const timeout = new Promise<never>((_, reject) => {
    timer = setTimeout(() => reject(new Error(`timed out after ${ms} ms`)), ms);
  });
  return Promise.race([p, timeout]).finally(() => clearTimeout(timer));
}

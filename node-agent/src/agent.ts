import { hostname } from "node:os";
import type { AgentConfig, Backend, GpuTelemetry, NodeReport } from "@enclave/contracts";
import { createLogger, readSecret, type Logger } from "@enclave/runtime";
import type { Worker } from "bullmq";
import { Redis } from "ioredis";
import { BackendSet, urlHost } from "./backends/backend-set.js";
import type { EngineDriver } from "./engine/engine-driver.js";
import { httpEngineProbe } from "./engine/engine-probe.js";
import { ProcessEngineDriver } from "./engine/process-engine-driver.js";
import { createGpuSource, type ConfiguredGpuSource } from "./gpu/create-gpu-source.js";
import type { GpuSource } from "./gpu/gpu-source.js";
import { HeartbeatLoop } from "./heartbeat/heartbeat-loop.js";
import { startObservabilityServer } from "./http/observability-server.js";
import { startNodeJobWorker } from "./jobs/node-job-worker.js";
import { AgentMetrics } from "./metrics/agent-metrics.js";
import { createAgentRegistry } from "./metrics/agent-registry.js";
import { HardwareMonitor } from "./probe/hardware-monitor.js";
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
  const bmcPassword = config.bmc.interface === "lanplus" && config.bmc.password ? readSecret(config.bmc.password) : undefined;

  const cleanups: (() => Promise<unknown>)[] = [];
  const cleanup = async () => {
    for (const c of cleanups.splice(0).reverse()) await c().catch((e: unknown) => log.error({ err: e }, "cleanup failed"));
  };

  try {
    const registry = createAgentRegistry();
    let heartbeat: HeartbeatLoop | undefined;
    let metrics: AgentMetrics | undefined;
    let accepted = false;

    const probeTimeoutMs = Math.min(10_000, Math.max(2_000, 2 * config.engines.healthIntervalMs));
    const probe = httpEngineProbe(probeTimeoutMs);
    cleanups.push(() => probe.close());
    const docker = config.engines.driver === "docker" ? config.engines.docker : undefined;
    const backends = new BackendSet({
      nodeId,
      driver: deps.driver ?? (await engineDriver(config, log)),
      probe,
      engines: config.engines,
      stopGraceMs: docker ? docker.stopGraceMs : ENGINE_STOP_GRACE_MS,
      ...(docker ? { persistence: { leaveRunningOnClose: docker.leaveRunningOnShutdown, orphanSweepIntervalMs: docker.orphanSweepIntervalMs } } : {}),
      log,
      onStateChange: () => heartbeat?.trigger(),
      onRestart: () => metrics?.engineRestarted(),
    });
    cleanups.push(() => backends.close());

    // GPUs, BMC and host statistics; an injected GPU source (tests) is read with each heartbeat, like simulated GPUs.
    const gpu: ConfiguredGpuSource = deps.gpuSource
      ? { source: deps.gpuSource, readBudgetMs: config.scheduler.timeoutMs, pollIntervalMs: undefined, close: () => {} }
      : createGpuSource(config, { log, backends: () => backends.list(), polling: true });
    const hardware = new HardwareMonitor({ config, gpu, ...(bmcPassword !== undefined ? { bmcPassword } : {}), log });
    cleanups.push(() => hardware.close());
    await hardware.refreshGpus();
    hardware.start();

    const identity = { nodeId, region, jurisdiction, agentVersion: AGENT_VERSION };
    const report = (): NodeReport => buildNodeReport(identity, Date.now(), hardware.gpuSample(), backends.list(), hardware.hardware());
    const lastGpus = (): GpuTelemetry[] => {
      const s = hardware.gpuSample();
      return s.ok ? s.gpus : [];
    };
    metrics = new AgentMetrics(
      registry,
      { node: nodeId, region, hostname: hostname() },
      { backends: (): Backend[] => backends.list(), gpus: lastGpus, bmc: () => hardware.bmcStatus(), nodeHealth: () => hardware.health() },
    );

    const http = await startObservabilityServer({
      host: config.listen.host,
      port: config.listen.port,
      registry,
      notReadyBecause: () => (accepted ? undefined : "no heartbeat accepted by the scheduler yet"),
    });
    cleanups.push(() => http.close());
    const url = `http://${urlHost(config.listen.host)}:${http.port}`;

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

    // Engines an earlier agent left running are adopted before any job can start a second one.
    await backends.takeOver();

    const worker: Worker = startNodeJobWorker({
      nodeId,
      connection: redis,
      log,
      ctx: {
        backends,
        gpuUuids: () => {
          const s = hardware.gpuSample();
          return s.ok ? s.gpus.map((g) => g.uuid) : undefined;
        },
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
      caFile: config.scheduler.caFile,
      log,
      collect: async () => {
        if (hardware.gpusFollowHeartbeat) await hardware.refreshGpus();
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
          // A worker closed while it is still connecting leaves BullMQ's connection setup to fail
          // after close with an unhandled "Connection is closed": let it finish connecting first
          // (bounded, so a Redis that is away does not hold the close up).
          await within(worker.waitUntilReady(), CLOSE_STEP_MS).catch(() => undefined);
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

/** The Docker client is loaded only where it is used: it costs a node on the process driver ~30 MB. */
async function engineDriver(config: AgentConfig, log: Logger): Promise<EngineDriver> {
  const { engines } = config;
  if (engines.driver === "process") {
    return new ProcessEngineDriver({ host: engines.host, portRange: engines.process.portRange, sim: engines.sim, listenTimeoutMs: engines.startupTimeoutMs, log });
  }
  const password = engines.docker.registry?.password;
  const { DockerEngineDriver } = await import("./engine/docker/docker-engine-driver.js");
  return new DockerEngineDriver({
    nodeId: config.nodeId,
    host: engines.host,
    docker: engines.docker,
    ...(password ? { registryPassword: readSecret(password) } : {}),
    log,
  });
}

/** Resolves or rejects like `p`, but rejects after `ms` at the latest. */
function within<T>(p: Promise<T>, ms: number): Promise<T> {
  let timer: NodeJS.Timeout | undefined;
  const timeout = new Promise<never>((_, reject) => {
    timer = setTimeout(() => reject(new Error(`timed out after ${ms} ms`)), ms);
  });
  return Promise.race([p, timeout]).finally(() => clearTimeout(timer));
}

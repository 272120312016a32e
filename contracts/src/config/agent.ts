import { z } from "zod";
import { HttpUrl, Id, Jurisdiction, Region } from "../common.js";
import { Listen, LogLevel, RedisConfig, SecretRef } from "./shared.js";

export const SimEngineOptions = z.strictObject({
  ttftMs: z.number().nonnegative().default(20),
  itlMs: z.number().nonnegative().default(5),
  maxConcurrent: z.number().int().min(1).default(64),
  /** Tokens generated when a request sets no max_tokens. */
  outputTokens: z.number().int().min(1).default(16),
});
export type SimEngineOptions = z.infer<typeof SimEngineOptions>;

/** How an engine kind is run in a container: `sim` runs the engine simulator image (rehearsals, tests). */
export const EngineProfileName = z.enum(["vllm", "sglang", "sim"]);
export type EngineProfileName = z.infer<typeof EngineProfileName>;

/** A container image reference, `[registry/]repository[:tag][@digest]`. */
export const ImageRef = z
  .string()
  .max(512)
  .regex(/^[A-Za-z0-9][A-Za-z0-9._\-/:@+]*$/, "an image reference such as registry.internal:5000/vllm/vllm-openai:v0.9.2");

const PortNumber = z.number().int().min(1).max(65535);

/** The firewall's `engines` range (ansible group_vars `enclave_ports.engines`): gateways reach engines only there. */
export const ENGINE_PORT_RANGE = { from: 20000, to: 20999 } as const;

/** Ports the agent hands to engines, whichever driver runs them. */
export const EnginePortRange = z
  .strictObject({ from: PortNumber, to: PortNumber })
  .refine((r) => r.from <= r.to, "portRange.from must not be above portRange.to")
  .prefault(ENGINE_PORT_RANGE);
export type EnginePortRange = z.infer<typeof EnginePortRange>;

/** The Docker engine driver: how containers are created, where models and images come from. */
export const DockerEngineOptions = z.strictObject({
  /** The Docker Engine API socket (podman's Docker-compatible service works too). */
  socketPath: z.string().min(1).default("/var/run/docker.sock"),
  /** Bound on each Docker API call; stops get the grace period on top, pulls `registry.pullTimeoutMs`. */
  apiTimeoutMs: z.number().int().min(100).default(30000),
  /** `bridge`: the engine's port is published on `engines.host`; `host`: the engine binds `engines.host` itself. */
  network: z.enum(["bridge", "host"]).default("bridge"),
  /** Host ports the agent hands to engines; the firewall must let the gateways reach them. */
  portRange: EnginePortRange,
  /** Model weights on the host, mounted read-only into every engine; engines run offline. */
  modelCache: z
    .strictObject({
      hostPath: z.string().min(1).default("/var/lib/enclave/models"),
      containerPath: z.string().regex(/^\//, "an absolute path").default("/root/.cache/huggingface"),
    })
    .prefault({}),
  /** Image per engine for deployments that name none. */
  images: z.strictObject({ vllm: ImageRef.optional(), sglang: ImageRef.optional() }).prefault({}),
  /** Which engine profile runs each engine kind. */
  profiles: z.strictObject({ vllm: EngineProfileName.default("vllm"), sglang: EngineProfileName.default("sglang") }).prefault({}),
  /** Shared memory for tensor-parallel workers: the host's IPC namespace, or a private /dev/shm of `shmSizeMiB`. */
  ipc: z.enum(["host", "private"]).default("host"),
  shmSizeMiB: z.number().int().min(64).default(16384),
  /** Optional container limits. */
  memoryMiB: z.number().int().min(64).optional(),
  pidsLimit: z.number().int().min(64).optional(),
  /** An init process as PID 1 reaps the engine's worker processes and forwards SIGTERM. */
  init: z.boolean().default(true),
  /** SIGTERM-to-SIGKILL grace when an engine is stopped. */
  stopGraceMs: z.number().int().min(0).max(600000).default(10000),
  /** Engines keep serving while the agent restarts; the next agent adopts them. */
  leaveRunningOnShutdown: z.boolean().default(true),
  /** How often containers no backend owns are looked for and removed. */
  orphanSweepIntervalMs: z.number().int().min(1000).default(60000),
  /** An internal registry images may be pulled from; without it a missing image fails the job. Never the internet. */
  registry: z
    .strictObject({
      /** `host[:port]`; only images named under it are pulled. */
      host: z.string().regex(/^[A-Za-z0-9.-]+(?::\d{1,5})?$/, "a registry host[:port] such as registry.internal:5000"),
      username: z.string().min(1).optional(),
      password: SecretRef.optional(),
      pullTimeoutMs: z.number().int().min(1000).default(1800000),
    })
    .optional(),
});
export type DockerEngineOptions = z.infer<typeof DockerEngineOptions>;

/** The nvidia-smi GPU source. */
export const NvidiaSmiOptions = z.strictObject({
  path: z.string().min(1).default("nvidia-smi"),
  /** The fast `--query-gpu` read. */
  intervalMs: z.number().int().min(200).default(5000),
  /** The full `-q -x` read, for what the query cannot give (temperature thresholds, MIG devices). */
  detailIntervalMs: z.number().int().min(1000).default(60000),
  /** Per call; a call that takes longer is killed and the GPUs are reported unknown. */
  timeoutMs: z.number().int().min(100).max(120000).default(5000),
  /**
   * The fast read from one long-running `nvidia-smi -lms intervalMs` rather than one call per
   * read; a loop that ends or stalls is replaced by single calls until it is restarted.
   */
  loop: z.boolean().default(true),
});
export type NvidiaSmiOptions = z.infer<typeof NvidiaSmiOptions>;

/** The node's BMC, read with ipmitool. `none`: no BMC readings; `open`: the local interface (/dev/ipmi0); `lanplus`: IPMI 2.0 over the network. */
export const BmcConfig = z
  .strictObject({
    interface: z.enum(["none", "open", "lanplus"]).default("none"),
    host: z.string().min(1).max(253).optional(),
    port: z.number().int().min(1).max(65535).default(623),
    username: z.string().max(64).default(""),
    /** lanplus only; from a file or the environment, never the config. */
    password: SecretRef.optional(),
    /** Session privilege (`ipmitool -L`); reading sensors and the SEL needs no more than USER. */
    privilege: z.enum(["USER", "OPERATOR", "ADMINISTRATOR"]).default("USER"),
    /** RMCP+ cipher suite (`-C`); BMCs that answer no cipher suite query need it set. */
    cipherSuite: z.number().int().min(0).max(17).default(3),
    ipmitoolPath: z.string().min(1).default("ipmitool"),
    intervalMs: z.number().int().min(1000).default(30000),
    /** Per ipmitool call, then it is killed. */
    timeoutMs: z.number().int().min(500).max(120000).default(10000),
    /** ipmitool's own retries of a lost packet (`-R`), each after `retransmitTimeoutS` (`-N`). */
    retries: z.number().int().min(0).max(5).default(1),
    retransmitTimeoutS: z.number().int().min(1).max(30).default(1),
  })
  .superRefine((b, ctx) => {
    if (b.interface !== "lanplus") return;
    if (!b.host) ctx.addIssue({ code: "custom", path: ["host"], message: "lanplus needs the BMC's host" });
    if (!b.password) ctx.addIssue({ code: "custom", path: ["password"], message: "lanplus needs a password secret ({ file } or { env })" });
  });
export type BmcConfig = z.infer<typeof BmcConfig>;

/** When hardware readings make a GPU or the node degraded or failed. */
export const HealthThresholds = z.strictObject({
  /** A GPU within this many degrees of its slowdown temperature is degraded. */
  temperatureMarginC: z.number().min(0).default(5),
  /** Corrected ECC errors per hour (volatile) above which a GPU is degraded. */
  correctedEccPerHour: z.number().min(0).default(100),
  /** How long an Xid error counts against its GPU. */
  xidWindowMs: z.number().int().min(0).default(3600000),
  /** Xid codes that fail a GPU (reset or replacement needed). */
  criticalXids: z.array(z.number().int().nonnegative()).default([48, 61, 62, 64, 74, 79, 95, 119, 120, 140]),
  /** Xid codes that degrade a GPU. */
  warningXids: z.array(z.number().int().nonnegative()).default([63, 92, 94]),
  /** How long a critical BMC event log record (uncorrectable ECC, PSU failure) degrades the node. */
  selWindowMs: z.number().int().min(0).default(86400000),
});
export type HealthThresholds = z.infer<typeof HealthThresholds>;

export const AgentConfig = z.strictObject({
  nodeId: Id,
  region: Region,
  jurisdiction: Jurisdiction,
  logLevel: LogLevel,
  /** Serves /healthz, /readyz and /metrics. */
  listen: Listen.default({ host: "127.0.0.1", port: 9400 }),
  scheduler: z.strictObject({
    url: HttpUrl,
    token: SecretRef,
    heartbeatIntervalMs: z.number().int().min(100).default(2000),
    timeoutMs: z.number().int().min(100).default(5000),
    /** PEM CA bundle that an https scheduler URL's certificate must chain to (default: the system CAs). */
    caFile: z.string().min(1).optional(),
  }),
  redis: RedisConfig.default({ url: "redis://127.0.0.1:6379" }),
  gpus: z.strictObject({
    /** `sim`: simulated GPUs (rehearsals, tests); `nvidia-smi`: the real ones. */
    source: z.enum(["sim", "nvidia-smi"]),
    /** Simulated GPUs only. */
    count: z.number().int().min(0).max(64).default(8),
    model: z.string().default("NVIDIA H100 80GB HBM3"),
    /** Simulated GPUs only: a JSON file of injected hardware faults by GPU index (`{"1": {"eccUncorrectedVolatile": 1}}`), re-read on every read; missing means none. */
    faultsFile: z.string().min(1).optional(),
    nvidiaSmi: NvidiaSmiOptions.prefault({}),
    /** Where `NVRM: Xid` kernel messages are read from (null: not at all). Needs read access to the kernel log. */
    kernelLog: z.string().min(1).nullable().default("/dev/kmsg"),
  }),
  bmc: BmcConfig.prefault({}),
  health: HealthThresholds.prefault({}),
  engines: z.strictObject({
    /** `process`: the engine simulator as child processes; `docker`: vLLM/SGLang containers through the Docker API. */
    driver: z.enum(["process", "docker"]),
    /** Address engines bind and are advertised on. */
    host: z.string().default("127.0.0.1"),
    startupTimeoutMs: z.number().int().min(100).default(120000),
    healthIntervalMs: z.number().int().min(50).default(1000),
    restart: z.strictObject({
      initialBackoffMs: z.number().int().min(0).default(1000),
      maxBackoffMs: z.number().int().min(0).default(30000),
      /** Restarts in a row after which the backend is reported failed. */
      maxRestarts: z.number().int().min(0).default(5),
    }).default({ initialBackoffMs: 1000, maxBackoffMs: 30000, maxRestarts: 5 }),
    sim: SimEngineOptions.default({ ttftMs: 20, itlMs: 5, maxConcurrent: 64, outputTokens: 16 }),
    /** Used when `driver` is `process`. */
    process: z.strictObject({
      /** Ports engines listen on (on `engines.host`); the firewall must let the gateways reach them. */
      portRange: EnginePortRange,
    }).prefault({}),
    /** Used when `driver` is `docker`. */
    docker: DockerEngineOptions.prefault({}),
  }),
});
export type AgentConfig = z.infer<typeof AgentConfig>;


import { createHash } from "node:crypto";
import { StartJob, type DockerEngineOptions } from "@enclave/contracts";
import type Dockerode from "dockerode";
import type { EngineSpec } from "../engine-driver.js";
import { engineArgs, type EngineProfile } from "../profiles/engine-profile.js";

/** Labels on every engine container: what it serves, for operators, filters and the next agent. */
export const LABEL = {
  node: "enclave.node",
  backend: "enclave.backend",
  deployment: "enclave.deployment",
  region: "enclave.region",
  replica: "enclave.replica",
  generation: "enclave.generation",
  engine: "enclave.engine",
  model: "enclave.model",
  /** The host port the agent gave it. */
  port: "enclave.port",
  /** The whole EngineSpec as JSON: what an agent adopting the container needs to restart it. */
  spec: "enclave.spec",
} as const;

/** One name per backend, so a second create for the same backend fails rather than duplicating it. */
export function containerName(backendId: string): string {
  // Ids may hold '.', '_' and '-', so no separator makes the readable part unique; the hash does.
  const readable = backendId.replace(/[^A-Za-z0-9_.-]+/g, "_").slice(0, 100);
  const hash = createHash("sha256").update(backendId).digest("hex").slice(0, 10);
  return `enclave_${readable}_${hash}`;
}

export interface ContainerInputs {
  nodeId: string;
  spec: EngineSpec;
  profile: EngineProfile;
  image: string;
  /** engines.host: where the engine is published (bridge) or binds (host network), and advertised. */
  host: string;
  hostPort: number;
  docker: DockerEngineOptions;
}

/** Variables every engine gets: offline model loading from the mounted cache, no usage reporting home. */
export function engineEnv(docker: DockerEngineOptions): string[] {
  return [
    `HF_HOME=${docker.modelCache.containerPath}`,
    "HF_HUB_OFFLINE=1",
    "HF_DATASETS_OFFLINE=1",
    "TRANSFORMERS_OFFLINE=1",
    "VLLM_NO_USAGE_STATS=1",
    "DO_NOT_TRACK=1",
  ];
}

/** The body of `POST /containers/create` for one engine: a pure function of the spec and the config. */
export function containerCreateBody(i: ContainerInputs): Dockerode.ContainerCreateOptions {
  const { spec, profile, docker } = i;
  const bridge = docker.network === "bridge";
  const args = engineArgs(profile, {
    model: spec.model,
    host: bridge ? "0.0.0.0" : i.host,
    port: bridge ? profile.containerPort : i.hostPort,
    tensorParallel: spec.gpus.length,
    gpuMemoryFraction: spec.gpuMemoryFraction,
    contextLength: spec.contextLength,
    extraArgs: spec.args,
  });
  const portKey = `${profile.containerPort}/tcp`;
  const MiB = 1024 * 1024;
  return {
    Image: i.image,
    Entrypoint: [...profile.entrypoint],
    Cmd: args,
    Env: engineEnv(docker),
    Labels: containerLabels(i.nodeId, spec, i.hostPort),
    ...(bridge ? { ExposedPorts: { [portKey]: {} } } : {}),
    StopTimeout: Math.ceil(docker.stopGraceMs / 1000),
    HostConfig: {
      NetworkMode: docker.network,
      ...(bridge ? { PortBindings: { [portKey]: [{ HostIp: i.host, HostPort: String(i.hostPort) }] } } : {}),
      DeviceRequests: [{ Driver: "nvidia", DeviceIDs: [...spec.gpus], Capabilities: [["gpu"]] }],
      Binds: [`${docker.modelCache.hostPath}:${docker.modelCache.containerPath}:ro`],
      // The agent restarts engines itself, with backoff and a limit the scheduler hears about.
      RestartPolicy: { Name: "no" },
      Init: docker.init,
      ...(docker.ipc === "host" ? { IpcMode: "host" } : { ShmSize: docker.shmSizeMiB * MiB }),
      ...(docker.memoryMiB !== undefined ? { Memory: docker.memoryMiB * MiB } : {}),
      ...(docker.pidsLimit !== undefined ? { PidsLimit: docker.pidsLimit } : {}),
    },
  };
}

export function containerLabels(nodeId: string, spec: EngineSpec, hostPort: number): Record<string, string> {
  return {
    [LABEL.node]: nodeId,
    [LABEL.backend]: spec.backendId,
    [LABEL.deployment]: spec.replica.deployment,
    [LABEL.region]: spec.replica.region,
    [LABEL.replica]: String(spec.replica.replica),
    [LABEL.generation]: String(spec.replica.generation),
    [LABEL.engine]: spec.engine,
    [LABEL.model]: spec.model,
    [LABEL.port]: String(hostPort),
    [LABEL.spec]: JSON.stringify(spec),
  };
}

/** The spec a container was created from, or why its labels do not say. */
export function specFromLabels(labels: Readonly<Record<string, string>> | undefined): { ok: true; spec: EngineSpec } | { ok: false; reason: string } {
  const raw = labels?.[LABEL.spec];
  if (raw === undefined) return { ok: false, reason: `no ${LABEL.spec} label` };
  let json: unknown;
  try {
    json = JSON.parse(raw);
  } catch {
    return { ok: false, reason: `${LABEL.spec} label is not JSON` };
  }
  if (typeof json !== "object" || json === null) return { ok: false, reason: `${LABEL.spec} label is not an object` };
  const { backendId } = json as { backendId?: unknown };
  if (typeof backendId !== "string" || backendId === "") return { ok: false, reason: `${LABEL.spec} label has no backendId` };
  // The same rules as the start job it came from.
  const parsed = StartJob.safeParse({ ...json, kind: "start" });
  if (!parsed.success) return { ok: false, reason: `${LABEL.spec} label: ${parsed.error.issues[0]?.path.join(".")}: ${parsed.error.issues[0]?.message}` };
  const { kind: _kind, image, gpuMemoryFraction, contextLength, ...rest } = parsed.data;
  return {
    ok: true,
    spec: {
      backendId,
      ...rest,
      ...(image !== undefined ? { image } : {}),
      ...(gpuMemoryFraction !== undefined ? { gpuMemoryFraction } : {}),
      ...(contextLength !== undefined ? { contextLength } : {}),
    },
  };
}

/** The port a container was given, from its label. */
export function portFromLabels(labels: Readonly<Record<string, string>> | undefined): number | undefined {
  const raw = labels?.[LABEL.port];
  const n = raw !== undefined && /^\d{1,5}$/.test(raw) ? Number(raw) : Number.NaN;
  return n >= 1 && n <= 65535 ? n : undefined;
}

/** Whether a running container was made for this spec (a retried start job, an adoption). */
export function sameSpec(a: EngineSpec, b: EngineSpec): boolean {
  const key = (s: EngineSpec) =>
    JSON.stringify([s.backendId, s.replica, s.model, s.engine, s.image ?? null, s.args, s.gpus, s.gpuMemoryFraction ?? null, s.contextLength ?? null]);
  return key(a) === key(b);
}

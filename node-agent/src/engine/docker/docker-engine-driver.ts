import { constants } from "node:os";
import type { DockerEngineOptions } from "@enclave/contracts";
import { delay, type Logger } from "@enclave/runtime";
import Dockerode from "dockerode";
import { urlHost } from "../../backends/backend-set.js";
import { EngineStartError, type EngineDriver, type EngineHandle, type EngineSpec } from "../engine-driver.js";
import { LogTail } from "../log-tail.js";
import { ENGINE_PROFILES, type EngineProbeSpec, type EngineProfile } from "../profiles/engine-profile.js";
import { apiErrorText, apiStatus, isPortConflict } from "./api-errors.js";
import { ContainerEvents, type DieEvent } from "./container-events.js";
import { containerCreateBody, containerName, LABEL, portFromLabels, sameSpec, specFromLabels } from "./container-spec.js";
import { imageRegistry, missingImageMessage, pullFailure } from "./image-source.js";
import { readJsonLines } from "./json-lines.js";
import { demuxDockerLogs } from "./log-stream.js";
import { choosePort } from "./port-choice.js";
import { adoptable, findOrphans, type ContainerSummary } from "./take-over.js";

export interface DockerEngineDriverOptions {
  nodeId: string;
  /** engines.host: where engines are published (or bind, with host networking) and advertised. */
  host: string;
  docker: DockerEngineOptions;
  /** The registry password, read by the caller from its secret reference. */
  registryPassword?: string;
  log: Logger;
  /** Lines of an ended engine's log kept for the job result and the operator. */
  logTailLines?: number;
}

/** A port conflict at start is retried on this many fresh ports. */
const PORT_ATTEMPTS = 3;
const LOG_TAIL_CHARS = 8192;

/**
 * Runs engines as containers through the Docker Engine API (podman's compatible API
 * too): one container per backend, named after it, labelled with what it serves, on
 * the GPUs the scheduler chose. Containers outlive the agent: the next one adopts them.
 * Every API call is bounded by `apiTimeoutMs`; images are never pulled from the internet.
 */
export class DockerEngineDriver implements EngineDriver {
  private readonly api: Dockerode;
  private readonly events: ContainerEvents;
  /** Handles of containers this agent watches, by container id. */
  private readonly handles = new Map<string, DockerEngineHandle>();
  /** Names of containers being created or replaced right now: not orphans, not to be started twice. */
  private readonly creating = new Set<string>();
  private readonly nodeLabel: string;

  readonly persistent = {
    survivors: (): Promise<EngineSpec[]> => this.survivors(),
    removeOrphans: (owned: () => ReadonlySet<string>): Promise<string[]> => this.removeOrphans(owned),
  };

  constructor(private readonly o: DockerEngineDriverOptions) {
    this.api = new Dockerode({ socketPath: o.docker.socketPath });
    this.nodeLabel = `${LABEL.node}=${o.nodeId}`;
    this.events = new ContainerEvents({
      docker: this.api,
      label: this.nodeLabel,
      log: o.log,
      onDie: (e) => void this.ended(e.id, e),
      onConnected: () => {
        for (const id of this.handles.keys()) void this.checkAlive(id);
      },
    });
  }

  async start(spec: EngineSpec): Promise<EngineHandle> {
    const profile = ENGINE_PROFILES[this.o.docker.profiles[spec.engine]];
    const name = containerName(spec.backendId);
    if (this.creating.has(name)) throw new Error(`a container for ${spec.backendId} is being created already`);
    this.creating.add(name);
    this.events.ensureStarted();
    try {
      const existing = await this.inspect(name);
      if (existing) {
        const labelled = specFromLabels(existing.Config.Labels);
        // A retried start job, or an adoption: the engine that runs is the one wanted.
        if (existing.State.Running && labelled.ok && sameSpec(labelled.spec, spec)) {
          this.o.log.info({ backendId: spec.backendId, container: name }, "engine container already running; adopting it");
          return this.attach(existing, profile);
        }
        await this.remove(existing.Id, 0);
      }
      const image = spec.image ?? this.o.docker.images[spec.engine];
      if (image === undefined) throw new EngineStartError(`no image for ${spec.engine}: name one in the deployment or in engines.docker.images.${spec.engine} of the agent config`, true);
      await this.ensureImage(image);
      for (let attempt = 1; ; attempt++) {
        const used = await this.usedPorts();
        const hostPort = choosePort(this.o.docker.portRange, used);
        if (hostPort === undefined) throw new Error(`no free port in engines.docker.portRange ${this.o.docker.portRange.from}-${this.o.docker.portRange.to}`);
        const body = containerCreateBody({ nodeId: this.o.nodeId, spec, profile, image, host: this.o.host, hostPort, docker: this.o.docker });
        let created: Dockerode.Container;
        try {
          created = await this.api.createContainer({ name, ...body, abortSignal: this.deadline() });
        } catch (e) {
          if (apiStatus(e) === 404) throw new EngineStartError(missingImageMessage(image, this.o.nodeId, this.o.docker.registry?.host), true);
          throw new Error(`cannot create container ${name}: ${apiErrorText(e)}`);
        }
        try {
          await created.start({ abortSignal: this.deadline() });
        } catch (e) {
          await this.remove(created.id, 0).catch(() => {});
          if (isPortConflict(e) && attempt < PORT_ATTEMPTS) {
            this.o.log.warn({ backendId: spec.backendId, hostPort }, "engine port was taken, trying another");
            continue;
          }
          throw new Error(`cannot start container ${name}: ${apiErrorText(e)}`);
        }
        const info = await created.inspect({ abortSignal: this.deadline() });
        this.o.log.info({ backendId: spec.backendId, container: name, image, hostPort }, "engine container started");
        return this.attach(info, profile);
      }
    } finally {
      this.creating.delete(name);
    }
  }

  async close(): Promise<void> {
    await this.events.close();
  }

  /** SIGTERM, then SIGKILL after the grace (Docker's stop). Never throws: a forced remove follows anyway. */
  async stopContainer(id: string, graceMs: number): Promise<void> {
    try {
      await this.api.getContainer(id).stop({ t: Math.ceil(graceMs / 1000), abortSignal: this.deadline(graceMs) });
    } catch (e) {
      // 304: already stopped; 404: gone. Anything else: the forced remove kills it.
      const status = apiStatus(e);
      if (status !== 304 && status !== 404) this.o.log.warn({ container: id, err: apiErrorText(e) }, "graceful stop failed; killing");
    }
  }

  /** Stops (when `graceMs` > 0) and removes a container; a missing one is fine. */
  async remove(id: string, graceMs: number): Promise<void> {
    if (graceMs > 0) await this.stopContainer(id, graceMs);
    try {
      await this.api.getContainer(id).remove({ force: true, v: true, abortSignal: this.deadline() });
    } catch (e) {
      const status = apiStatus(e);
      // 409: removal already in progress.
      if (status !== 404 && status !== 409) throw new Error(`cannot remove container ${id}: ${apiErrorText(e)}`);
    }
  }

  /** The container's end: its exit code and last output to the handle, once. */
  async ended(id: string, die?: DieEvent): Promise<void> {
    const handle = this.handles.get(id);
    if (!handle || handle.hasEnded) return;
    let info = await this.inspect(id).catch(() => undefined);
    // The daemon may announce a death before its inspect says so; a container that still
    // runs after that was started again (or never died, when no event said it did).
    for (let i = 0; info?.State.Running && die !== undefined && i < 20; i++) {
      await delay(100);
      info = await this.inspect(id).catch(() => undefined);
    }
    if (info?.State.Running) return;
    const code = info?.State.ExitCode ?? die?.exitCode ?? null;
    let log = await this.logTail(id);
    if (info?.State.OOMKilled) log = `${log}\n[the container was killed for running out of memory]`;
    if (this.handles.get(id) !== handle) return;
    this.handles.delete(id);
    handle.end(code, signalOf(code), log);
  }

  private attach(info: Dockerode.ContainerInspectInfo, profile: EngineProfile): DockerEngineHandle {
    const port = portFromLabels(info.Config.Labels);
    if (port === undefined) throw new Error(`container ${info.Name} has no ${LABEL.port} label`);
    const handle = new DockerEngineHandle(this, info.Id, `http://${urlHost(this.o.host)}:${port}`, info.State.Pid || undefined, profile.probe);
    this.handles.set(info.Id, handle);
    // It may have died before it was watched; the event is then gone.
    void this.checkAlive(info.Id);
    return handle;
  }

  private async checkAlive(id: string): Promise<void> {
    const info = await this.inspect(id).catch(() => undefined);
    if (!info?.State.Running) await this.ended(id);
  }

  private async survivors(): Promise<EngineSpec[]> {
    return adoptable(await this.listNodeContainers(), this.o.nodeId);
  }

  private async removeOrphans(owned: () => ReadonlySet<string>): Promise<string[]> {
    const containers = await this.listNodeContainers();
    const orphans = findOrphans(containers, this.o.nodeId, owned(), this.creating);
    const removed: string[] = [];
    for (const o of orphans) {
      try {
        await this.remove(o.id, this.o.docker.stopGraceMs);
        this.handles.delete(o.id);
        removed.push(`${o.name}: ${o.reason}`);
      } catch (e) {
        this.o.log.error({ container: o.name, err: apiErrorText(e) }, "cannot remove orphaned container");
      }
    }
    return removed;
  }

  private async listNodeContainers(): Promise<ContainerSummary[]> {
    const list = await this.api.listContainers({ all: true, filters: { label: [this.nodeLabel] }, abortSignal: this.deadline() });
    return list.map((c) => ({ id: c.Id, name: (c.Names[0] ?? "").replace(/^\//, ""), state: c.State, labels: c.Labels ?? {} }));
  }

  /** Host ports of every Enclave container on this daemon (other agents' too: they may share it). */
  private async usedPorts(): Promise<Set<number>> {
    const list = await this.api.listContainers({ all: true, filters: { label: [LABEL.port] }, abortSignal: this.deadline() });
    const used = new Set<number>();
    for (const c of list) {
      const p = portFromLabels(c.Labels);
      if (p !== undefined) used.add(p);
    }
    return used;
  }

  private async inspect(idOrName: string): Promise<Dockerode.ContainerInspectInfo | undefined> {
    try {
      return await this.api.getContainer(idOrName).inspect({ abortSignal: this.deadline() });
    } catch (e) {
      if (apiStatus(e) === 404) return undefined;
      throw new Error(`cannot inspect container ${idOrName}: ${apiErrorText(e)}`);
    }
  }

  private async logTail(id: string): Promise<string> {
    try {
      const buf = (await this.api.getContainer(id).logs({ stdout: true, stderr: true, follow: false, tail: this.o.logTailLines ?? 200, abortSignal: this.deadline() })) as unknown;
      const tail = new LogTail(LOG_TAIL_CHARS);
      tail.push(Buffer.isBuffer(buf) ? demuxDockerLogs(buf) : String(buf));
      return tail.toString();
    } catch (e) {
      return `[no logs: ${apiErrorText(e)}]`;
    }
  }

  /** The image is on this node, or is pulled from the configured internal registry; never from anywhere else. */
  private async ensureImage(image: string): Promise<void> {
    try {
      // dockerode's image inspect takes no abort signal; the race bounds the wait instead.
      await raceTimeout(this.api.getImage(image).inspect(), this.o.docker.apiTimeoutMs);
      return;
    } catch (e) {
      if (apiStatus(e) !== 404) throw new Error(`cannot inspect image ${image}: ${apiErrorText(e)}`);
    }
    const registry = this.o.docker.registry;
    if (registry === undefined || imageRegistry(image) !== registry.host) throw new EngineStartError(missingImageMessage(image, this.o.nodeId, registry?.host), true);
    this.o.log.info({ image, registry: registry.host }, "pulling engine image from the internal registry");
    let failure: string | undefined;
    try {
      const auth = registry.username !== undefined ? { authconfig: { username: registry.username, password: this.o.registryPassword ?? "", serveraddress: registry.host } } : {};
      const stream = (await this.api.pull(image, { ...auth, abortSignal: AbortSignal.timeout(registry.pullTimeoutMs) })) as NodeJS.ReadableStream;
      await readJsonLines(stream, (event) => {
        failure ??= pullFailure(event);
      });
    } catch (e) {
      failure ??= apiErrorText(e);
    }
    // Failed, like a missing image: the scheduler may place the replica on a node that has it.
    if (failure !== undefined) throw new EngineStartError(`pulling image ${image} from ${registry.host} failed: ${failure}`, true);
  }

  private deadline(extraMs = 0): AbortSignal {
    return AbortSignal.timeout(this.o.docker.apiTimeoutMs + extraMs);
  }
}

function raceTimeout<T>(p: Promise<T>, ms: number): Promise<T> {
  let timer: NodeJS.Timeout | undefined;
  const timeout = new Promise<never>((_, reject) => {
    timer = setTimeout(() => reject(Object.assign(new Error("timed out"), { name: "TimeoutError" })), ms);
  });
  return Promise.race([p, timeout]).finally(() => clearTimeout(timer));
}

/** Docker's exit code 128+n: the engine was killed by signal n. */
function signalOf(code: number | null): string | null {
  if (code === null || code <= 128) return null;
  const n = code - 128;
  return Object.entries(constants.signals).find(([, v]) => v === n)?.[0] ?? null;
}

class DockerEngineHandle implements EngineHandle {
  private ending: { code: number | null; signal: string | null; log: string } | undefined;
  private readonly callbacks: ((code: number | null, signal: string | null, logTail: string) => void)[] = [];
  private stopping: Promise<void> | undefined;

  constructor(
    private readonly driver: DockerEngineDriver,
    private readonly id: string,
    readonly url: string,
    readonly pid: number | undefined,
    readonly probe: EngineProbeSpec,
  ) {}

  get hasEnded(): boolean {
    return this.ending !== undefined;
  }

  end(code: number | null, signal: string | null, log: string): void {
    if (this.ending) return;
    this.ending = { code, signal, log };
    for (const cb of this.callbacks.splice(0)) cb(code, signal, log);
  }

  onExit(cb: (code: number | null, signal: string | null, logTail: string) => void): void {
    const e = this.ending;
    if (e) setImmediate(() => cb(e.code, e.signal, e.log));
    else this.callbacks.push(cb);
  }

  stop(graceMs: number): Promise<void> {
    this.stopping ??= (async () => {
      await this.driver.stopContainer(this.id, graceMs);
      // Its exit code and last output are read before the container goes with them.
      await this.driver.ended(this.id);
      this.end(null, null, "");
      await this.driver.remove(this.id, 0);
    })();
    return this.stopping;
  }
}

import type { Engine, ReplicaRef } from "@enclave/contracts";
import type { EngineProbeSpec } from "./profiles/engine-profile.js";

/** What to run: one replica of a model on some of this node's GPUs. */
export interface EngineSpec {
  backendId: string;
  replica: ReplicaRef;
  model: string;
  engine: Engine;
  /** GPU uuids the scheduler chose; tensor parallelism is their number. */
  gpus: string[];
  image?: string;
  /** Flags for the real engine (vLLM/SGLang command line), passed through unchanged. */
  args: string[];
  /** Fraction of each GPU's memory the engine may take; the engine's default when absent. */
  gpuMemoryFraction?: number;
  /** Longest context served, tokens; the model's own when absent. */
  contextLength?: number;
}

/** A running engine. */
export interface EngineHandle {
  /** Base URL of its OpenAI-compatible API, e.g. `http://10.0.0.5:41234`. */
  readonly url: string;
  readonly pid: number | undefined;
  /** How to probe it; vLLM's paths and metric names when absent. */
  readonly probe?: EngineProbeSpec;
  /** SIGTERM, then SIGKILL after `graceMs`; resolves once it is gone. Safe to call twice. */
  stop(graceMs: number): Promise<void>;
  /** Called once when the engine ends, with the last lines it wrote; at once if it already has. */
  onExit(cb: (code: number | null, signal: string | null, logTail: string) => void): void;
}

/** Starts engines: child processes here, Docker containers in production. */
export interface EngineDriver {
  /**
   * Resolves once the engine runs (the process driver: once it listens); rejects with
   * the reason (and its log tail) otherwise. Readiness is the supervisor's to judge.
   */
  start(spec: EngineSpec): Promise<EngineHandle>;
  /**
   * Engines that outlive the agent (containers) and whose next agent takes them over
   * rather than starting them again. Absent: engines end with the agent.
   */
  readonly persistent?: {
    /** Engines an earlier agent left running, to adopt: `start(spec)` then returns the running one. */
    survivors(): Promise<EngineSpec[]>;
    /**
     * Stops and removes engines of this node that no backend owns; says what it removed
     * and why. `owned` (backend ids) is asked after the engines are listed.
     */
    removeOrphans(owned: () => ReadonlySet<string>): Promise<string[]>;
  };
  /** Releases what the driver holds (event streams); engines are not stopped. */
  close?(): Promise<void>;
}

/** A start that failed; `permanent` when trying again on this node cannot help (an image that is not here). */
export class EngineStartError extends Error {
  constructor(
    message: string,
    readonly permanent: boolean,
  ) {
    super(message);
    this.name = "EngineStartError";
  }
}

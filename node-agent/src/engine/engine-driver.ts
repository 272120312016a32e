import type { Engine, ReplicaRef } from "@enclave/contracts";

/** What to run: one replica of a model on some of this node's GPUs. */
export interface EngineSpec {
  backendId: string;
  replica: ReplicaRef;
  model: string;
  engine: Engine;
  /** GPU uuids the scheduler chose. */
  gpus: string[];
  image?: string;
  /** Flags for the real engine (vLLM/SGLang command line). */
  args: string[];
}

/** A running engine. */
export interface EngineHandle {
  /** Base URL of its OpenAI-compatible API, e.g. `http://10.0.0.5:41234`. */
  readonly url: string;
  readonly pid: number | undefined;
  /** SIGTERM, then SIGKILL after `graceMs`; resolves once it is gone. Safe to call twice. */
  stop(graceMs: number): Promise<void>;
  /** Called once when the engine ends, with the last lines it wrote; at once if it already has. */
  onExit(cb: (code: number | null, signal: string | null, logTail: string) => void): void;
}

/** Starts engines: child processes here, Docker containers in production. */
export interface EngineDriver {
  /** Resolves once the engine listens; rejects with the reason (and its log tail) otherwise. */
  start(spec: EngineSpec): Promise<EngineHandle>;
}

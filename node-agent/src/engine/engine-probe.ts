import type { BackendLoad } from "@enclave/contracts";
import { errorText, HttpClient } from "../http/http-client.js";
import { engineLoad } from "./engine-load.js";
import { ENGINE_PROFILES, type EngineProbeSpec } from "./profiles/engine-profile.js";

/** vLLM's, which the simulator speaks too: what an engine that says nothing else is probed with. */
export const DEFAULT_PROBE: EngineProbeSpec = ENGINE_PROFILES.vllm.probe;

/** Asks a running engine whether it is healthy and how loaded it is. Never throws. */
export interface EngineProbe {
  /** undefined when the health path (`/health`) answered 200, otherwise why not. */
  health(url: string, signal: AbortSignal, spec?: EngineProbeSpec): Promise<string | undefined>;
  /** Load from the metrics path (`/metrics`), or null when it cannot be had. */
  load(url: string, model: string, signal: AbortSignal, spec?: EngineProbeSpec): Promise<BackendLoad | null>;
  close(): Promise<void>;
}

/** A metrics page larger than this is not one we parse. */
const MAX_METRICS_BYTES = 4 * 1024 * 1024;

/** Below uvicorn's (vLLM's, SGLang's) 5 s keep-alive, so a pooled connection is never reused as the engine closes it. */
const PROBE_IDLE_MS = 4_000;

/** Probes over HTTP with its own connection pool, every call bounded by `timeoutMs`. */
export function httpEngineProbe(timeoutMs: number): EngineProbe {
  const client = new HttpClient({ timeoutMs, idleMs: PROBE_IDLE_MS });
  return {
    async health(url, signal, spec = DEFAULT_PROBE) {
      try {
        // The body is not needed, only read to keep the connection reusable.
        const res = await client.request(`${url}${spec.healthPath}`, { method: "GET", signal, maxBodyBytes: 64 * 1024 });
        return res.status === 200 ? undefined : `${spec.healthPath} answered ${res.status}`;
      } catch (e) {
        return `${spec.healthPath}: ${errorText(e)}`;
      }
    },
    async load(url, model, signal, spec = DEFAULT_PROBE) {
      try {
        const res = await client.request(`${url}${spec.metricsPath}`, { method: "GET", signal, maxBodyBytes: MAX_METRICS_BYTES });
        if (res.status !== 200 || res.truncated) return null;
        return engineLoad(res.body, spec.loadMetrics, model);
      } catch {
        return null;
      }
    },
    close: async () => client.close(),
  };
}

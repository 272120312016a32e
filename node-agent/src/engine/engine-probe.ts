import type { BackendLoad } from "@enclave/contracts";
import { Agent as HttpAgent, request } from "undici";
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

/** Probes over HTTP with its own connection pool, every call bounded by `timeoutMs`. */
export function httpEngineProbe(timeoutMs: number): EngineProbe {
  const dispatcher = new HttpAgent({ connect: { timeout: timeoutMs }, keepAliveTimeout: 10_000, headersTimeout: timeoutMs, bodyTimeout: timeoutMs });

  const get = (url: string, signal: AbortSignal) =>
    request(url, { method: "GET", dispatcher, signal: AbortSignal.any([signal, AbortSignal.timeout(timeoutMs)]) });

  return {
    async health(url, signal, spec = DEFAULT_PROBE) {
      try {
        const res = await get(`${url}${spec.healthPath}`, signal);
        await res.body.dump();
        return res.statusCode === 200 ? undefined : `${spec.healthPath} answered ${res.statusCode}`;
      } catch (e) {
        return `${spec.healthPath}: ${errorText(e)}`;
      }
    },
    async load(url, model, signal, spec = DEFAULT_PROBE) {
      try {
        const res = await get(`${url}${spec.metricsPath}`, signal);
        if (res.statusCode !== 200) {
          await res.body.dump();
          return null;
        }
        let size = 0;
        const chunks: Buffer[] = [];
        for await (const chunk of res.body) {
          size += (chunk as Buffer).length;
          if (size > MAX_METRICS_BYTES) {
            res.body.destroy();
            return null;
          }
          chunks.push(chunk as Buffer);
        }
        return engineLoad(Buffer.concat(chunks).toString("utf8"), spec.loadMetrics, model);
      } catch {
        return null;
      }
    },
    close: () => dispatcher.close(),
  };
}

function errorText(e: unknown): string {
  if (e instanceof Error) {
    const code = (e as NodeJS.ErrnoException).code;
    return code ? `${code} ${e.message}` : e.message;
  }
  return String(e);
}

import type { BackendLoad } from "@enclave/contracts";
import { parsePrometheusText, type PromSample } from "./prometheus-text.js";

/**
 * Which series of an engine's `/metrics` say how loaded it is. Each list is in order of
 * preference: the first name with a usable sample wins (a release that renamed a metric
 * may print both for a while).
 */
export interface LoadMetricNames {
  /** Requests being generated: summed over series (data-parallel engines print one per engine). */
  running: readonly string[];
  /** Requests queued: summed. */
  waiting: readonly string[];
  /** KV cache in use, 0..1: the highest series, since the fullest engine is the one that stalls. */
  kvCacheUsage: readonly string[];
}

/** vLLM: `gpu_cache_usage_perc` until 0.9.2, `kv_cache_usage_perc` since; labels `model_name` and `engine`. */
export const VLLM_LOAD_METRICS: LoadMetricNames = {
  running: ["vllm:num_requests_running"],
  waiting: ["vllm:num_requests_waiting"],
  kvCacheUsage: ["vllm:kv_cache_usage_perc", "vllm:gpu_cache_usage_perc"],
};

/** SGLang (with `--enable-metrics`): token_usage is the KV pool's used fraction. */
export const SGLANG_LOAD_METRICS: LoadMetricNames = {
  running: ["sglang:num_running_reqs"],
  waiting: ["sglang:num_queue_reqs"],
  kvCacheUsage: ["sglang:token_usage"],
};

/** More series than any engine prints for these few metrics. */
const MAX_SAMPLES = 10_000;

/**
 * An engine's load from its `/metrics` text. Series labelled with another `model_name`
 * are ignored when some carry ours. Negative values (exporters print -1 for "unknown")
 * and non-finite ones are not numbers we use. Returns null unless all three numbers are
 * there: a partial load would mislead routing more than none.
 */
export function engineLoad(text: string, names: LoadMetricNames, model?: string): BackendLoad | null {
  const wanted = new Set([...names.running, ...names.waiting, ...names.kvCacheUsage]);
  const usable = parsePrometheusText(text, MAX_SAMPLES, wanted).filter((s) => Number.isFinite(s.value) && s.value >= 0);
  const ours = model === undefined ? [] : usable.filter((s) => s.labels["model_name"] === model);
  const samples = ours.length > 0 ? ours : usable;

  const running = first(samples, names.running, sum);
  const waiting = first(samples, names.waiting, sum);
  const kv = first(samples, names.kvCacheUsage, (v) => Math.max(...v));
  if (running === undefined || waiting === undefined || kv === undefined) return null;
  return { running, waiting, kvCacheUsage: Math.min(1, kv) };
}

/** vLLM's load; kept for callers that know they scrape vLLM (or the simulator, which speaks its names). */
export function vllmLoad(text: string, model?: string): BackendLoad | null {
  return engineLoad(text, VLLM_LOAD_METRICS, model);
}

function first(samples: readonly PromSample[], names: readonly string[], combine: (values: number[]) => number): number | undefined {
  for (const name of names) {
    const values = samples.filter((s) => s.name === name).map((s) => s.value);
    if (values.length > 0) return combine(values);
  }
  return undefined;
}

function sum(values: number[]): number {
  return values.reduce((a, b) => a + b, 0);
}

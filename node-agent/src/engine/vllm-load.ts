import type { BackendLoad } from "@enclave/contracts";
import { parsePrometheusText, type PromSample } from "./prometheus-text.js";

const RUNNING = "vllm:num_requests_running";
const WAITING = "vllm:num_requests_waiting";
/** vLLM ≥ 0.10 names it kv_cache_usage_perc; older releases gpu_cache_usage_perc. */
const KV_CACHE = ["vllm:kv_cache_usage_perc", "vllm:gpu_cache_usage_perc"];

/**
 * An engine's load from its vLLM `/metrics` text. Series labelled with another
 * `model_name` are ignored when some carry ours. Returns null unless all three
 * numbers are present and sane: a partial load would mislead routing more than none.
 */
export function vllmLoad(text: string, model?: string): BackendLoad | null {
  const all = parsePrometheusText(text).filter((s) => s.name === RUNNING || s.name === WAITING || KV_CACHE.includes(s.name));
  const ours = model === undefined ? [] : all.filter((s) => s.labels["model_name"] === model);
  const samples = ours.length > 0 ? ours : all;

  const running = sum(samples, RUNNING);
  const waiting = sum(samples, WAITING);
  const kv = KV_CACHE.map((name) => max(samples, name)).find((v) => v !== undefined);
  if (running === undefined || waiting === undefined || kv === undefined) return null;
  if (running < 0 || waiting < 0 || kv < 0) return null;
  return { running, waiting, kvCacheUsage: Math.min(1, kv) };
}

function values(samples: readonly PromSample[], name: string): number[] | undefined {
  const v = samples.filter((s) => s.name === name).map((s) => s.value);
  if (v.length === 0 || v.some((x) => !Number.isFinite(x))) return undefined;
  return v;
}

function sum(samples: readonly PromSample[], name: string): number | undefined {
  return values(samples, name)?.reduce((a, b) => a + b, 0);
}

function max(samples: readonly PromSample[], name: string): number | undefined {
  const v = values(samples, name);
  return v === undefined ? undefined : Math.max(...v);
}

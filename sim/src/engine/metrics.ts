import { Counter, Gauge, Histogram, Registry } from "prom-client";
import type { SequenceSlots } from "./slots.js";

/** vLLM's bucket bounds for time to first token, seconds. */
export const TTFT_BUCKETS = [0.001, 0.005, 0.01, 0.02, 0.04, 0.06, 0.08, 0.1, 0.25, 0.5, 0.75, 1.0, 2.5, 5.0, 7.5, 10.0, 20.0, 40.0, 80.0, 160.0, 640.0, 2560.0];

export interface EngineMetrics {
  registry: Registry;
  promptTokens(n: number): void;
  generationToken(): void;
  firstToken(seconds: number): void;
  finished(reason: "stop" | "length"): void;
}

/**
 * A registry private to one simulated engine, with vLLM's metric names and `model_name`
 * label, so scrapers and dashboards written for vLLM read it unchanged.
 */
export function createEngineMetrics(model: string, slots: SequenceSlots): EngineMetrics {
  const registry = new Registry();
  const labels = { model_name: model };
  const labelNames = ["model_name"] as const;
  new Gauge({
    name: "vllm:num_requests_running",
    help: "Number of requests in model execution batches.",
    labelNames,
    registers: [registry],
    collect() {
      this.set(labels, slots.running);
    },
  });
  new Gauge({
    name: "vllm:num_requests_waiting",
    help: "Number of requests waiting to be processed.",
    labelNames,
    registers: [registry],
    collect() {
      this.set(labels, slots.waiting);
    },
  });
  new Gauge({
    name: "vllm:kv_cache_usage_perc",
    help: "KV-cache usage. 1 means 100 percent usage.",
    labelNames,
    registers: [registry],
    collect() {
      this.set(labels, slots.running / slots.maxRunning);
    },
  });
  const prompt = new Counter({ name: "vllm:prompt_tokens_total", help: "Number of prefill tokens processed.", labelNames, registers: [registry] });
  const generation = new Counter({ name: "vllm:generation_tokens_total", help: "Number of generation tokens processed.", labelNames, registers: [registry] });
  const success = new Counter({
    name: "vllm:request_success_total",
    help: "Count of successfully processed requests.",
    labelNames: ["model_name", "finished_reason"] as const,
    registers: [registry],
  });
  const ttft = new Histogram({
    name: "vllm:time_to_first_token_seconds",
    help: "Histogram of time to first token in seconds.",
    labelNames,
    buckets: TTFT_BUCKETS,
    registers: [registry],
  });
  // Series exist from the start, as in vLLM, so a scrape before the first request sees zeros, not gaps.
  prompt.inc(labels, 0);
  generation.inc(labels, 0);
  ttft.zero(labels);
  return {
    registry,
    promptTokens: (n) => prompt.inc(labels, n),
    generationToken: () => generation.inc(labels, 1),
    firstToken: (s) => ttft.observe(labels, s),
    finished: (reason) => success.inc({ ...labels, finished_reason: reason }, 1),
  };
}

import assert from "node:assert/strict";
import { describe, test } from "node:test";
import fc from "fast-check";
import { engineLoad, SGLANG_LOAD_METRICS, VLLM_LOAD_METRICS, vllmLoad } from "./engine-load.js";
import { parsePrometheusText, parseSampleLine } from "./prometheus-text.js";

const M = "meta-llama/Llama-3.1-8B";

/** Shaped like vLLM 0.10's /metrics (V1 engine: `engine` label), histograms and counters with _created included. */
const VLLM = `# HELP vllm:num_requests_running Number of requests in model execution batches.
# TYPE vllm:num_requests_running gauge
vllm:num_requests_running{engine="0",model_name="${M}"} 3
# HELP vllm:num_requests_waiting Number of requests waiting to be processed.
# TYPE vllm:num_requests_waiting gauge
vllm:num_requests_waiting{engine="0",model_name="${M}"} 7
# HELP vllm:kv_cache_usage_perc KV-cache usage. 1 means 100 percent usage.
# TYPE vllm:kv_cache_usage_perc gauge
vllm:kv_cache_usage_perc{engine="0",model_name="${M}"} 0.4375
# HELP vllm:request_success_total Count of successfully processed requests.
# TYPE vllm:request_success_total counter
vllm:request_success_total{engine="0",finished_reason="stop",model_name="${M}"} 12.0
# HELP vllm:request_success_created Count of successfully processed requests.
# TYPE vllm:request_success_created gauge
vllm:request_success_created{engine="0",finished_reason="stop",model_name="${M}"} 1.7545e+09
# TYPE vllm:time_to_first_token_seconds histogram
vllm:time_to_first_token_seconds_bucket{engine="0",le="0.001",model_name="${M}"} 0
vllm:time_to_first_token_seconds_bucket{engine="0",le="+Inf",model_name="${M}"} 12
vllm:time_to_first_token_seconds_count{engine="0",model_name="${M}"} 12
vllm:time_to_first_token_seconds_sum{engine="0",model_name="${M}"} 0.9
`;

/** vLLM before 0.9.2: the KV cache metric had another name. */
const VLLM_OLD = `# HELP vllm:num_requests_running Number of requests currently running on GPU.
# TYPE vllm:num_requests_running gauge
vllm:num_requests_running{model_name="${M}"} 2.0
# TYPE vllm:num_requests_waiting gauge
vllm:num_requests_waiting{model_name="${M}"} 0.0
# HELP vllm:gpu_cache_usage_perc GPU KV-cache usage. 1 means 100 percent usage.
# TYPE vllm:gpu_cache_usage_perc gauge
vllm:gpu_cache_usage_perc{model_name="${M}"} 0.125
`;

/** SGLang with --enable-metrics. */
const SGLANG = `# HELP sglang:num_running_reqs The number of running requests.
# TYPE sglang:num_running_reqs gauge
sglang:num_running_reqs{model_name="${M}"} 5.0
# HELP sglang:num_queue_reqs The number of requests in the waiting queue.
# TYPE sglang:num_queue_reqs gauge
sglang:num_queue_reqs{model_name="${M}"} 2.0
# HELP sglang:token_usage The token usage.
# TYPE sglang:token_usage gauge
sglang:token_usage{model_name="${M}"} 0.61
# HELP sglang:gen_throughput The generation throughput (token/s).
# TYPE sglang:gen_throughput gauge
sglang:gen_throughput{model_name="${M}"} 1234.5
`;

describe("Prometheus text (parse-prometheus-text-format)", () => {
  test("reads names, labels and values, ignoring timestamps, comments and folded histograms", () => {
    const samples = parsePrometheusText(`# HELP x y\nfoo 1\nbar{a="1",b="two words"} 2.5e3 1700000000000\n\nbaz{} -Inf\n# TYPE h histogram\nh_bucket{le="1"} 2\nh_count 2\n`);
    assert.deepEqual(samples, [
      { name: "foo", labels: {}, value: 1 },
      { name: "bar", labels: { a: "1", b: "two words" }, value: 2500 },
      { name: "baz", labels: {}, value: Number.NEGATIVE_INFINITY },
    ]);
  });

  test("label values may hold escaped quotes, commas and braces", () => {
    assert.deepEqual(parseSampleLine(`m{path="a\\"b,c}",x="line\\nnext",y="back\\\\slash"} 4`), [
      { name: "m", labels: { path: 'a"b,c}', x: "line\nnext", y: "back\\slash" }, value: 4 },
    ]);
  });

  test("a broken line costs only itself: the rest of the page is still read", () => {
    for (const bad of [`m{a="1" 3`, `m{a=1} 3`, `m abc`, `m{a="x} 3`, `m`]) assert.deepEqual(parseSampleLine(bad), [], bad);
    // The library throws on the TYPE line with two words; the samples around it survive.
    assert.deepEqual(parsePrometheusText('ok 1\n# TYPE broken two words\nm{a=1} 3\nalso{x="y"} 2\n').map((s) => s.name), ["ok", "also"]);
  });

  test("only the families asked for are kept, not their _created or _bucket series", () => {
    const names = new Set(["vllm:request_success", "vllm:time_to_first_token_seconds", "vllm:num_requests_running"]);
    assert.deepEqual(parsePrometheusText(VLLM, 100, names).map((s) => s.name), ["vllm:num_requests_running"]);
  });

  test("keeps at most maxSamples", () => {
    const page = Array.from({ length: 100 }, (_, i) => `a{i="${i}"} 1\n`).join("");
    assert.equal(parsePrometheusText(page, 10).length, 10);
    assert.equal(parsePrometheusText(page.replaceAll("\n", "\nb{\n"), 10).length, 10, "also when read line by line");
  });
});

describe("engine load", () => {
  test("vLLM, with the KV cache name of 0.9.2 and later, and of before", () => {
    assert.deepEqual(vllmLoad(VLLM, M), { running: 3, waiting: 7, kvCacheUsage: 0.4375 });
    assert.deepEqual(vllmLoad(VLLM), { running: 3, waiting: 7, kvCacheUsage: 0.4375 });
    assert.deepEqual(engineLoad(VLLM_OLD, VLLM_LOAD_METRICS, M), { running: 2, waiting: 0, kvCacheUsage: 0.125 });
  });

  test("a vLLM printing both KV cache names is read by the new one", () => {
    const both = `${VLLM}vllm:gpu_cache_usage_perc{engine="0",model_name="${M}"} 0.9\n`;
    assert.equal(vllmLoad(both, M)?.kvCacheUsage, 0.4375);
  });

  test("SGLang's names", () => {
    assert.deepEqual(engineLoad(SGLANG, SGLANG_LOAD_METRICS, M), { running: 5, waiting: 2, kvCacheUsage: 0.61 });
    assert.equal(engineLoad(SGLANG, VLLM_LOAD_METRICS, M), null, "an SGLang page read with vLLM's names has no load");
  });

  test("data-parallel engines: running and waiting are summed, KV cache is the fullest", () => {
    const dp = `vllm:num_requests_running{engine="0",model_name="${M}"} 1
vllm:num_requests_running{engine="1",model_name="${M}"} 4
vllm:num_requests_waiting{engine="0",model_name="${M}"} 2
vllm:num_requests_waiting{engine="1",model_name="${M}"} 0
vllm:kv_cache_usage_perc{engine="0",model_name="${M}"} 0.2
vllm:kv_cache_usage_perc{engine="1",model_name="${M}"} 0.7
`;
    assert.deepEqual(vllmLoad(dp, M), { running: 5, waiting: 2, kvCacheUsage: 0.7 });
  });

  test("unsorted series, HELP/TYPE without samples and an empty body", () => {
    const lines = VLLM.split("\n").filter((l) => l.startsWith("vllm:"));
    const unsorted = [...lines].reverse().join("\n") + "\n# HELP vllm:num_preemptions_total x\n# TYPE vllm:num_preemptions_total counter\n";
    assert.deepEqual(vllmLoad(unsorted, M), { running: 3, waiting: 7, kvCacheUsage: 0.4375 });
    const interleaved = `vllm:num_requests_running{engine="0",model_name="${M}"} 1\nvllm:num_requests_waiting{engine="0",model_name="${M}"} 0\nvllm:num_requests_running{engine="1",model_name="${M}"} 2\nvllm:kv_cache_usage_perc{model_name="${M}"} 0.5\n`;
    assert.deepEqual(vllmLoad(interleaved, M), { running: 3, waiting: 0, kvCacheUsage: 0.5 });
    assert.equal(vllmLoad("", M), null);
    assert.equal(vllmLoad("# HELP vllm:num_requests_running x\n# TYPE vllm:num_requests_running gauge\n", M), null);
  });

  test("-1 sentinels and other impossible numbers are not load", () => {
    assert.equal(vllmLoad(VLLM.replace("} 3", "} -1"), M), null);
    assert.equal(vllmLoad(VLLM.replace("} 3", "} NaN"), M), null);
    assert.equal(vllmLoad(VLLM.replace("} 0.4375", "} +Inf"), M), null);
    const sentinelBeside = `${SGLANG}sglang:token_usage{model_name="${M}",dp_rank="1"} -1\n`;
    assert.deepEqual(engineLoad(sentinelBeside, SGLANG_LOAD_METRICS, M), { running: 5, waiting: 2, kvCacheUsage: 0.61 }, "a sentinel series beside real ones is skipped");
  });

  test("series of other models are ignored when ours are present, and summed when no series names a model", () => {
    const mixed = `${VLLM}vllm:num_requests_running{model_name="other"} 100\nvllm:num_requests_waiting{model_name="other"} 100\nvllm:kv_cache_usage_perc{model_name="other"} 1\n`;
    assert.deepEqual(vllmLoad(mixed, M), { running: 3, waiting: 7, kvCacheUsage: 0.4375 });
    const unlabelled = 'vllm:num_requests_running{engine="0"} 1\nvllm:num_requests_running{engine="1"} 2\nvllm:num_requests_waiting 0\nvllm:kv_cache_usage_perc 0.2';
    assert.deepEqual(vllmLoad(unlabelled, "m"), { running: 3, waiting: 0, kvCacheUsage: 0.2 }, "no final newline either");
  });

  test("garbage gives null, never a throw; usage above 1 is capped", () => {
    assert.equal(vllmLoad("<html>502 Bad Gateway</html>"), null);
    assert.equal(vllmLoad("\x00\xff{{{}}}"), null);
    assert.equal(vllmLoad(VLLM.replace(/^vllm:num_requests_waiting\{.*$/m, "")), null, "waiting missing");
    assert.equal(vllmLoad(VLLM.replace("} 0.4375", "} 1.2"))?.kvCacheUsage, 1);
  });

  test("any text at all: null or a valid load, never a throw", () => {
    fc.assert(
      fc.property(fc.string({ maxLength: 400 }), fc.constantFrom(VLLM, SGLANG, ""), (junk, page) => {
        for (const names of [VLLM_LOAD_METRICS, SGLANG_LOAD_METRICS]) {
          const load = engineLoad(page + junk, names, M);
          if (load !== null) assert.ok(load.running >= 0 && load.waiting >= 0 && load.kvCacheUsage >= 0 && load.kvCacheUsage <= 1);
        }
      }),
      { numRuns: 300 },
    );
  });
});

import assert from "node:assert/strict";
import { describe, test } from "node:test";
import { parsePrometheusText, parseSampleLine } from "./prometheus-text.js";
import { vllmLoad } from "./vllm-load.js";

const VLLM = `# HELP vllm:num_requests_running Number of requests in model execution batches.
# TYPE vllm:num_requests_running gauge
vllm:num_requests_running{model_name="meta-llama/Llama-3.1-8B"} 3
# HELP vllm:num_requests_waiting Number of requests waiting to be processed.
# TYPE vllm:num_requests_waiting gauge
vllm:num_requests_waiting{model_name="meta-llama/Llama-3.1-8B"} 7
# HELP vllm:kv_cache_usage_perc KV-cache usage. 1 means 100 percent usage.
# TYPE vllm:kv_cache_usage_perc gauge
vllm:kv_cache_usage_perc{model_name="meta-llama/Llama-3.1-8B"} 0.4375
# TYPE vllm:time_to_first_token_seconds histogram
vllm:time_to_first_token_seconds_bucket{le="0.001",model_name="meta-llama/Llama-3.1-8B"} 0
vllm:time_to_first_token_seconds_bucket{le="+Inf",model_name="meta-llama/Llama-3.1-8B"} 12
`;

describe("Prometheus text parser", () => {
  test("reads names, labels, values and ignores timestamps and comments", () => {
    const samples = parsePrometheusText(`# HELP x y\nfoo 1\nbar{a="1",b="two words"} 2.5e3 1700000000000\n\nbaz{} -Inf\n`);
    assert.deepEqual(samples, [
      { name: "foo", labels: {}, value: 1 },
      { name: "bar", labels: { a: "1", b: "two words" }, value: 2500 },
      { name: "baz", labels: {}, value: Number.NEGATIVE_INFINITY },
    ]);
  });

  test("label values may hold escaped quotes, commas and braces", () => {
    assert.deepEqual(parseSampleLine(`m{path="a\\"b,c}",x="line\\nnext",y="back\\\\slash"} 4`), {
      name: "m",
      labels: { path: 'a"b,c}', x: "line\nnext", y: "back\\slash" },
      value: 4,
    });
  });

  test("broken lines are skipped, not fatal", () => {
    for (const bad of [`m{a="1" 3`, `m{a=1} 3`, `m 1 2 3`, `m abc`, `{a="1"} 3`, `m{a="x} 3`, `9m 1`, `m`]) {
      assert.equal(parseSampleLine(bad), undefined, bad);
    }
    assert.deepEqual(parsePrometheusText("garbage\x00\nok 1\n}{{\n").map((s) => s.name), ["ok"]);
  });

  test("keeps at most maxSamples", () => {
    assert.equal(parsePrometheusText("a 1\n".repeat(100), 10).length, 10);
  });
});

describe("vLLM load", () => {
  test("from vLLM's metric names", () => {
    assert.deepEqual(vllmLoad(VLLM, "meta-llama/Llama-3.1-8B"), { running: 3, waiting: 7, kvCacheUsage: 0.4375 });
    assert.deepEqual(vllmLoad(VLLM), { running: 3, waiting: 7, kvCacheUsage: 0.4375 });
  });

  test("older vLLM's gpu_cache_usage_perc is understood", () => {
    const old = VLLM.replaceAll("vllm:kv_cache_usage_perc", "vllm:gpu_cache_usage_perc");
    assert.deepEqual(vllmLoad(old, "meta-llama/Llama-3.1-8B"), { running: 3, waiting: 7, kvCacheUsage: 0.4375 });
  });

  test("series of other models are ignored when ours are present, and summed when no series names a model", () => {
    const mixed = `${VLLM}vllm:num_requests_running{model_name="other"} 100\nvllm:num_requests_waiting{model_name="other"} 100\nvllm:kv_cache_usage_perc{model_name="other"} 1\n`;
    assert.deepEqual(vllmLoad(mixed, "meta-llama/Llama-3.1-8B"), { running: 3, waiting: 7, kvCacheUsage: 0.4375 });
    const unlabelled = "vllm:num_requests_running 1\nvllm:num_requests_running 2\nvllm:num_requests_waiting 0\nvllm:kv_cache_usage_perc 0.2\n";
    assert.deepEqual(vllmLoad(unlabelled, "m"), { running: 3, waiting: 0, kvCacheUsage: 0.2 });
  });

  test("missing, garbage or insane numbers give null, never a throw", () => {
    assert.equal(vllmLoad(""), null);
    assert.equal(vllmLoad("<html>502 Bad Gateway</html>"), null);
    assert.equal(vllmLoad("\x00\xff{{{}}}"), null);
    assert.equal(vllmLoad(VLLM.replace(/^vllm:num_requests_waiting\{.*$/m, "")), null, "waiting missing");
    assert.equal(vllmLoad(VLLM.replace("} 3", "} NaN")), null);
    assert.equal(vllmLoad(VLLM.replace("} 3", "} -1")), null);
    assert.equal(vllmLoad(VLLM.replace("} 0.4375", "} +Inf")), null);
  });

  test("KV-cache usage above 1 is capped", () => {
    assert.equal(vllmLoad(VLLM.replace("} 0.4375", "} 1.2"))?.kvCacheUsage, 1);
  });
});

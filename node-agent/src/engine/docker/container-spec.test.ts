import assert from "node:assert/strict";
import { describe, test } from "node:test";
import { DockerEngineOptions } from "@enclave/contracts";
import type { EngineSpec } from "../engine-driver.js";
import { ENGINE_PROFILES } from "../profiles/engine-profile.js";
import { containerCreateBody, containerName, LABEL, portFromLabels, sameSpec, specFromLabels } from "./container-spec.js";

const SPEC: EngineSpec = {
  backendId: "gpu-eu-1/llama/eu-central-1/0/g3",
  replica: { deployment: "llama", region: "eu-central-1", replica: 0, generation: 3 },
  model: "meta-llama/Llama-3.1-70B-Instruct",
  engine: "vllm",
  gpus: ["GPU-0b8d-aaaa", "GPU-77e1-bbbb"],
  image: "registry.internal:5000/vllm/vllm-openai:v0.9.2",
  args: ["--enable-prefix-caching"],
  gpuMemoryFraction: 0.9,
  contextLength: 32768,
};

const LABELS = {
  "enclave.node": "gpu-eu-1",
  "enclave.backend": "gpu-eu-1/llama/eu-central-1/0/g3",
  "enclave.deployment": "llama",
  "enclave.region": "eu-central-1",
  "enclave.replica": "0",
  "enclave.generation": "3",
  "enclave.engine": "vllm",
  "enclave.model": "meta-llama/Llama-3.1-70B-Instruct",
  "enclave.port": "20417",
};

const ENV = ["HF_HOME=/root/.cache/huggingface", "HF_HUB_OFFLINE=1", "HF_DATASETS_OFFLINE=1", "TRANSFORMERS_OFFLINE=1", "VLLM_NO_USAGE_STATS=1", "DO_NOT_TRACK=1"];
const GPU_REQUEST = [{ Driver: "nvidia", DeviceIDs: ["GPU-0b8d-aaaa", "GPU-77e1-bbbb"], Capabilities: [["gpu"]] }];

describe("container create body", () => {
  test("vLLM: exact body, with the GPUs by uuid, labels, flags, read-only model cache, no restart policy", () => {
    const docker = DockerEngineOptions.parse({});
    const body = containerCreateBody({ nodeId: "gpu-eu-1", spec: SPEC, profile: ENGINE_PROFILES.vllm, image: SPEC.image!, host: "10.1.2.3", hostPort: 20417, docker });
    assert.deepEqual(body, {
      Image: "registry.internal:5000/vllm/vllm-openai:v0.9.2",
      Entrypoint: ["python3", "-m", "vllm.entrypoints.openai.api_server"],
      Cmd: [
        "--model", "meta-llama/Llama-3.1-70B-Instruct",
        "--served-model-name", "meta-llama/Llama-3.1-70B-Instruct",
        "--host", "0.0.0.0",
        "--port", "8000",
        "--tensor-parallel-size", "2",
        "--gpu-memory-utilization", "0.9",
        "--max-model-len", "32768",
        "--enable-prefix-caching",
      ],
      Env: ENV,
      Labels: { ...LABELS, [LABEL.spec]: JSON.stringify(SPEC) },
      ExposedPorts: { "8000/tcp": {} },
      StopTimeout: 10,
      HostConfig: {
        NetworkMode: "bridge",
        PortBindings: { "8000/tcp": [{ HostIp: "10.1.2.3", HostPort: "20417" }] },
        DeviceRequests: GPU_REQUEST,
        Binds: ["/var/lib/enclave/models:/root/.cache/huggingface:ro"],
        RestartPolicy: { Name: "no" },
        Init: true,
        IpcMode: "host",
      },
    });
  });

  test("SGLang: its own flags, port 30000, metrics switched on; private shm and limits when configured", () => {
    const docker = DockerEngineOptions.parse({ ipc: "private", shmSizeMiB: 8192, memoryMiB: 65536, pidsLimit: 4096, stopGraceMs: 2500, modelCache: { hostPath: "/srv/models", containerPath: "/models" } });
    const spec: EngineSpec = { ...SPEC, engine: "sglang", image: "lmsysorg/sglang:v0.4.9", args: ["--chunked-prefill-size", "4096"] };
    const body = containerCreateBody({ nodeId: "gpu-eu-1", spec, profile: ENGINE_PROFILES.sglang, image: spec.image!, host: "10.1.2.3", hostPort: 20999, docker });
    assert.deepEqual(body, {
      Image: "lmsysorg/sglang:v0.4.9",
      Entrypoint: ["python3", "-m", "sglang.launch_server"],
      Cmd: [
        "--model-path", "meta-llama/Llama-3.1-70B-Instruct",
        "--served-model-name", "meta-llama/Llama-3.1-70B-Instruct",
        "--host", "0.0.0.0",
        "--port", "30000",
        "--tp", "2",
        "--mem-fraction-static", "0.9",
        "--context-length", "32768",
        "--enable-metrics",
        "--chunked-prefill-size", "4096",
      ],
      Env: ["HF_HOME=/models", ...ENV.slice(1)],
      Labels: { ...LABELS, "enclave.engine": "sglang", "enclave.port": "20999", [LABEL.spec]: JSON.stringify(spec) },
      ExposedPorts: { "30000/tcp": {} },
      StopTimeout: 3,
      HostConfig: {
        NetworkMode: "bridge",
        PortBindings: { "30000/tcp": [{ HostIp: "10.1.2.3", HostPort: "20999" }] },
        DeviceRequests: GPU_REQUEST,
        Binds: ["/srv/models:/models:ro"],
        RestartPolicy: { Name: "no" },
        Init: true,
        ShmSize: 8192 * 1024 * 1024,
        Memory: 65536 * 1024 * 1024,
        PidsLimit: 4096,
      },
    });
  });

  test("host networking: the engine binds the agent's address and port itself; unset settings leave no flag", () => {
    const docker = DockerEngineOptions.parse({ network: "host" });
    const spec: EngineSpec = { ...SPEC, gpus: ["GPU-a"], args: [] };
    delete spec.gpuMemoryFraction;
    delete spec.contextLength;
    const body = containerCreateBody({ nodeId: "gpu-eu-1", spec, profile: ENGINE_PROFILES.vllm, image: "i", host: "10.1.2.3", hostPort: 20001, docker });
    assert.deepEqual(body.Cmd, ["--model", SPEC.model, "--served-model-name", SPEC.model, "--host", "10.1.2.3", "--port", "20001", "--tensor-parallel-size", "1"]);
    assert.equal(body.ExposedPorts, undefined);
    assert.equal(body.HostConfig?.PortBindings, undefined);
    assert.equal(body.HostConfig?.NetworkMode, "host");
  });

  test("the simulator profile runs engine-main with the flags it knows", () => {
    const body = containerCreateBody({ nodeId: "n", spec: SPEC, profile: ENGINE_PROFILES.sim, image: "localhost/enclave-sim:x", host: "127.0.0.1", hostPort: 20001, docker: DockerEngineOptions.parse({}) });
    assert.deepEqual(body.Entrypoint, ["node", "/opt/enclave/node_modules/@enclave/sim/dist/engine-main.js"]);
    assert.deepEqual(body.Cmd, ["--model", SPEC.model, "--host", "0.0.0.0", "--port", "8000", "--max-model-len", "32768", "--enable-prefix-caching"]);
  });
});

describe("container identity", () => {
  test("names are per backend, valid for Docker, and distinct where ids only differ in separators", () => {
    const a = containerName("a_b/c/eu-1/0/g1");
    const b = containerName("a/b_c/eu-1/0/g1");
    assert.notEqual(a, b);
    for (const n of [a, b, containerName(SPEC.backendId)]) assert.match(n, /^[a-zA-Z0-9][a-zA-Z0-9_.-]+$/);
    assert.equal(containerName(SPEC.backendId), containerName(SPEC.backendId));
  });

  test("the spec label reads back as the spec; anything else says why not", () => {
    const body = containerCreateBody({ nodeId: "gpu-eu-1", spec: SPEC, profile: ENGINE_PROFILES.vllm, image: "i", host: "h", hostPort: 20417, docker: DockerEngineOptions.parse({}) });
    const back = specFromLabels(body.Labels);
    assert.deepEqual(back, { ok: true, spec: SPEC });
    assert.ok(back.ok && sameSpec(back.spec, SPEC));
    assert.equal(portFromLabels(body.Labels), 20417);
    assert.deepEqual(specFromLabels({}), { ok: false, reason: "no enclave.spec label" });
    assert.deepEqual(specFromLabels({ [LABEL.spec]: "{" }), { ok: false, reason: "enclave.spec label is not JSON" });
    assert.match(String((specFromLabels({ [LABEL.spec]: JSON.stringify({ ...SPEC, gpus: [] }) }) as { reason: string }).reason), /gpus/);
    assert.match(String((specFromLabels({ [LABEL.spec]: JSON.stringify({ ...SPEC, backendId: 3 }) }) as { reason: string }).reason), /backendId/);
    assert.equal(portFromLabels({ [LABEL.port]: "99999" }), undefined);
    assert.equal(sameSpec(SPEC, { ...SPEC, args: [] }), false);
  });
});

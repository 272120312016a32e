import assert from "node:assert/strict";
import { test } from "node:test";
import type { Backend } from "@enclave/contracts";
import { simGpuLoad } from "./sim-gpu-load.js";

const GPUS = [
  { uuid: "GPU-a", memoryTotalMiB: 80_000 },
  { uuid: "GPU-b", memoryTotalMiB: 80_000 },
];
const MODEL = { residentFraction: 0.4, saturatingRequests: 4 };

function b(gpus: string[], state: Backend["state"], running: number | null): Pick<Backend, "gpus" | "state" | "load"> {
  return { gpus, state, load: running === null ? null : { running, waiting: 0, kvCacheUsage: 0 } };
}

test("idle GPUs without engines show nothing", () => {
  const m = simGpuLoad(GPUS, [], MODEL);
  assert.deepEqual(m.get("GPU-a"), { utilization: 0, memoryUsedMiB: 0 });
  assert.deepEqual(m.get("GPU-b"), { utilization: 0, memoryUsedMiB: 0 });
});

test("an engine holds memory on each of its GPUs while its process runs, and busies them by its running requests", () => {
  const m = simGpuLoad(GPUS, [b(["GPU-a", "GPU-b"], "ready", 2)], MODEL);
  assert.deepEqual(m.get("GPU-a"), { utilization: 0.5, memoryUsedMiB: 32_000 });
  assert.deepEqual(m.get("GPU-b"), { utilization: 0.5, memoryUsedMiB: 32_000 });
  assert.deepEqual(simGpuLoad(GPUS, [b(["GPU-a"], "starting", null)], MODEL).get("GPU-a"), { utilization: 0, memoryUsedMiB: 32_000 });
});

test("engines that have no process hold nothing", () => {
  for (const state of ["restarting", "failed"] as const) {
    assert.deepEqual(simGpuLoad(GPUS, [b(["GPU-a"], state, null)], MODEL).get("GPU-a"), { utilization: 0, memoryUsedMiB: 0 }, state);
  }
});

test("engines sharing a GPU add up, capped at the GPU's capacity", () => {
  const m = simGpuLoad(GPUS, [b(["GPU-a"], "ready", 3), b(["GPU-a"], "ready", 3), b(["GPU-a"], "ready", 100)], MODEL);
  assert.deepEqual(m.get("GPU-a"), { utilization: 1, memoryUsedMiB: 80_000 });
  assert.deepEqual(m.get("GPU-b"), { utilization: 0, memoryUsedMiB: 0 });
});

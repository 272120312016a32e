import assert from "node:assert/strict";
import { mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { test } from "node:test";
import type { Logger } from "@enclave/runtime";
import { SimGpuSource } from "./sim-gpu-source.js";

function recordingLog(): { log: Logger; warnings: unknown[] } {
  const warnings: unknown[] = [];
  const log = { warn: (obj: unknown) => warnings.push(obj) } as unknown as Logger;
  return { log, warnings };
}

test("the faults file injects an uncorrectable ECC error on one GPU; a missing, bad or out-of-range file injects none and is reported once", async () => {
  const dir = mkdtempSync(join(tmpdir(), "enclave-sim-faults-"));
  try {
    const file = join(dir, "faults.json");
    const { log, warnings } = recordingLog();
    const source = new SimGpuSource({ nodeId: "n", count: 2, model: "NVIDIA H100 80GB HBM3", faultsFile: file, log });
    const states = async () => (await source.read()).map((g) => `${g.health.state}:${g.ecc?.uncorrectedVolatile}`);

    assert.deepEqual(await states(), ["healthy:0", "healthy:0"], "no file yet");
    writeFileSync(file, JSON.stringify({ "1": { eccUncorrectedVolatile: 1 } }));
    assert.deepEqual(await states(), ["healthy:0", "failed:1"]);
    assert.equal(warnings.length, 0);

    writeFileSync(file, "{ not json");
    assert.deepEqual(await states(), ["healthy:0", "healthy:0"]);
    assert.deepEqual(await states(), ["healthy:0", "healthy:0"]);
    assert.equal(warnings.length, 1, "reported once, not on every read");

    writeFileSync(file, JSON.stringify({ "5": { eccUncorrectedVolatile: 1 } }));
    assert.deepEqual(await states(), ["healthy:0", "healthy:0"]);
    writeFileSync(file, JSON.stringify({ "0": { eccUncorrectedVolatile: -1 } }));
    assert.deepEqual(await states(), ["healthy:0", "healthy:0"]);
    assert.equal(warnings.length, 3);
    assert.match(JSON.stringify(warnings[1]), /no GPU 5 on this node/);

    rmSync(file);
    assert.deepEqual(await states(), ["healthy:0", "healthy:0"]);
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});

import { readFile } from "node:fs/promises";
import type { Backend, GpuTelemetry } from "@enclave/contracts";
import type { Logger } from "@enclave/runtime";
// The fleet alone: the package index also loads the engine simulator's HTTP server.
import { SimGpuFaults } from "@enclave/sim/gpu/faults";
import { SimGpuFleet } from "@enclave/sim/gpu/fleet";
import type { GpuSource } from "./gpu-source.js";
import { DEFAULT_SIM_GPU_LOAD, simGpuLoad, type SimGpuLoadModel } from "./sim-gpu-load.js";

export interface SimGpuSourceOptions {
  nodeId: string;
  count: number;
  model: string;
  load?: SimGpuLoadModel;
  /** Injected hardware faults (`SimGpuFaults` as JSON), re-read on every read; a missing file means none. */
  faultsFile?: string;
  log?: Logger;
}

/**
 * Simulated GPUs whose memory and utilisation follow the engines placed on them,
 * so the scheduler sees VRAM fill up as it places replicas. `fleet` is public so
 * tests and `enclave up` can inject GPU faults.
 */
export class SimGpuSource implements GpuSource {
  readonly fleet: SimGpuFleet;
  private readonly inventory: { index: number; uuid: string; memoryTotalMiB: number }[];
  private faultsProblem: string | undefined;

  constructor(
    private readonly opts: SimGpuSourceOptions,
    private readonly backends: () => readonly Backend[] = () => [],
  ) {
    this.fleet = new SimGpuFleet({ nodeId: opts.nodeId, count: opts.count, model: opts.model });
    this.inventory = this.fleet.read().map((g) => ({ index: g.index, uuid: g.uuid, memoryTotalMiB: g.memoryTotalMiB }));
  }

  async read(): Promise<GpuTelemetry[]> {
    const loads = simGpuLoad(this.inventory, this.backends(), this.opts.load ?? DEFAULT_SIM_GPU_LOAD);
    for (const gpu of this.inventory) {
      const load = loads.get(gpu.uuid);
      if (load) this.fleet.setLoad(gpu.index, load);
    }
    if (this.opts.faultsFile !== undefined) await this.applyFaults(this.opts.faultsFile);
    return this.fleet.read();
  }

  /** A bad faults file is reported once and leaves every GPU fault-free: a rehearsal tool must not crash the agent. */
  private async applyFaults(file: string): Promise<void> {
    let faults: SimGpuFaults = {};
    let problem: string | undefined;
    try {
      const parsed = SimGpuFaults.safeParse(JSON.parse(await readFile(file, "utf8")));
      if (parsed.success) faults = parsed.data;
      else problem = parsed.error.issues.map((i) => `${i.path.join(".") || "(root)"}: ${i.message}`).join("; ");
    } catch (e) {
      const err = e as NodeJS.ErrnoException;
      if (err.code !== "ENOENT") problem = err.message;
    }
    for (const key of Object.keys(faults)) {
      if (Number(key) >= this.fleet.count) problem = `no GPU ${key} on this node (it has ${this.fleet.count})`;
    }
    if (problem !== undefined) faults = {};
    if (problem !== undefined && problem !== this.faultsProblem) this.opts.log?.warn({ file, problem }, "ignoring the simulated GPU faults file");
    this.faultsProblem = problem;
    for (const gpu of this.inventory) this.fleet.setFault(gpu.index, faults[String(gpu.index)] ?? {});
  }
}

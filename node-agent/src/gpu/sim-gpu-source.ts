import type { Backend, GpuTelemetry } from "@enclave/contracts";
// The fleet alone: the package index also loads the engine simulator's HTTP server.
import { SimGpuFleet } from "@enclave/sim/gpu/fleet";
import type { GpuSource } from "./gpu-source.js";
import { DEFAULT_SIM_GPU_LOAD, simGpuLoad, type SimGpuLoadModel } from "./sim-gpu-load.js";

export interface SimGpuSourceOptions {
  nodeId: string;
  count: number;
  model: string;
  load?: SimGpuLoadModel;
}

/**
 * Simulated GPUs whose memory and utilisation follow the engines placed on them,
 * so the scheduler sees VRAM fill up as it places replicas. `fleet` is public so
 * tests and `enclave up` can inject GPU faults.
 */
export class SimGpuSource implements GpuSource {
  readonly fleet: SimGpuFleet;
  private readonly inventory: { index: number; uuid: string; memoryTotalMiB: number }[];

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
    return this.fleet.read();
  }
}

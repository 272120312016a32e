import type { GpuTelemetry, Health } from "@enclave/contracts";
import type { SimGpuFault } from "./faults.js";
import { gpuModelSpec, type GpuModelSpec } from "./models.js";
import { lag, POWER_TAU_MS, TEMPERATURE_TAU_MS } from "./thermal.js";
import { simGpuUuid } from "./uuid.js";

export interface SimGpuFleetOptions {
  nodeId: string;
  count: number;
  model: string;
}

/** What a driver holds on an idle GPU: context, ECC bookkeeping. */
const IDLE_MEMORY_MIB = 512;

interface SimGpu {
  uuid: string;
  utilization: number;
  engineMemoryMiB: number;
  powerW: number;
  temperatureC: number;
  injected: Health | null;
  fault: SimGpuFault;
}

/**
 * A node's GPUs without the hardware: the numbers nvidia-smi would show for the load
 * the engines put on them, for the agent's simulated telemetry source.
 */
export class SimGpuFleet {
  private readonly spec: GpuModelSpec;
  private readonly gpus: SimGpu[];
  private lastReadAt: number | undefined;

  constructor(private readonly opts: SimGpuFleetOptions) {
    if (!Number.isInteger(opts.count) || opts.count < 0 || opts.count > 64) throw new RangeError(`GPU count must be an integer from 0 to 64, got ${opts.count}`);
    this.spec = gpuModelSpec(opts.model);
    this.gpus = Array.from({ length: opts.count }, (_, index) => ({
      uuid: simGpuUuid(opts.nodeId, index),
      utilization: 0,
      engineMemoryMiB: 0,
      powerW: this.spec.idlePowerW,
      temperatureC: this.spec.idleTempC,
      injected: null,
      fault: {},
    }));
  }

  get count(): number {
    return this.gpus.length;
  }

  /**
   * Load of one GPU (index): utilisation 0..1 and VRAM the engines on it hold, MiB.
   * Takes effect from the previous `read`: temperature and power integrate per read interval.
   */
  setLoad(index: number, load: { utilization: number; memoryUsedMiB: number }): void {
    const gpu = this.gpu(index);
    if (!Number.isFinite(load.utilization) || load.utilization < 0 || load.utilization > 1) throw new RangeError(`utilization must be within 0..1, got ${load.utilization}`);
    if (!Number.isFinite(load.memoryUsedMiB) || load.memoryUsedMiB < 0) throw new RangeError(`memoryUsedMiB must be >= 0, got ${load.memoryUsedMiB}`);
    gpu.utilization = load.utilization;
    gpu.engineMemoryMiB = load.memoryUsedMiB;
  }

  /** Forces a health state for tests and rehearsals (e.g. an uncorrectable ECC error); null returns to computed. */
  injectHealth(index: number, health: Health | null): void {
    this.gpu(index).injected = health ? { state: health.state, reasons: [...health.reasons] } : null;
  }

  /** Shows a hardware fault's counters on one GPU (e.g. an uncorrectable ECC error) until replaced; `{}` clears it. */
  setFault(index: number, fault: SimGpuFault): void {
    this.gpu(index).fault = { ...fault };
  }

  /**
   * Current telemetry. Temperature and power follow load with a first-order lag over the
   * time since the previous read, so the same series of `now` and loads gives the same numbers.
   * A `now` earlier than the previous read advances nothing.
   */
  read(now: number = Date.now()): GpuTelemetry[] {
    const dt = this.lastReadAt === undefined ? 0 : Math.max(0, now - this.lastReadAt);
    this.lastReadAt = this.lastReadAt === undefined ? now : Math.max(this.lastReadAt, now);
    const s = this.spec;
    return this.gpus.map((gpu, index) => {
      const u = gpu.utilization;
      gpu.powerW = lag(gpu.powerW, s.idlePowerW + (s.busyPowerW - s.idlePowerW) * u, dt, POWER_TAU_MS);
      gpu.temperatureC = lag(gpu.temperatureC, s.idleTempC + (s.busyTempC - s.idleTempC) * u, dt, TEMPERATURE_TAU_MS);
      const ecc = { uncorrected: gpu.fault.eccUncorrectedVolatile ?? 0, corrected: gpu.fault.eccCorrectedVolatile ?? 0 };
      return {
        index,
        uuid: gpu.uuid,
        name: s.name,
        memoryTotalMiB: s.memoryTotalMiB,
        memoryUsedMiB: Math.min(s.memoryTotalMiB, Math.round(IDLE_MEMORY_MIB + gpu.engineMemoryMiB)),
        utilizationPct: Math.round(u * 100),
        // nvidia-smi's precision: whole degrees, centiwatts.
        temperatureC: Math.round(gpu.temperatureC),
        powerW: Math.round(gpu.powerW * 100) / 100,
        powerLimitW: s.powerLimitW,
        eccUncorrectedVolatile: ecc.uncorrected,
        health: gpu.injected ? { state: gpu.injected.state, reasons: [...gpu.injected.reasons] } : faultHealth(ecc.uncorrected),
        // HBM runs a few degrees below the die (the H100 capture under load: 59 °C die, 54 °C memory).
        memoryTemperatureC: Math.round(gpu.temperatureC) - 5,
        temperatureSlowdownC: s.slowdownTempC,
        temperatureShutdownC: s.shutdownTempC,
        smClockMHz: u > 0 ? s.smClockMaxMHz : s.smClockIdleMHz,
        memoryClockMHz: s.memoryClockMHz,
        // The driver reports an idle GPU's low clocks as the `gpu_idle` clock event reason.
        clockEventReasons: u > 0 ? [] : ["gpu_idle"],
        ecc: { mode: "enabled", correctedVolatile: ecc.corrected, uncorrectedVolatile: ecc.uncorrected, correctedAggregate: ecc.corrected, uncorrectedAggregate: ecc.uncorrected },
        // Hopper and Ampere remap rows instead of retiring pages (nvidia-smi: retired pages N/A).
        remappedRows: { correctable: 0, uncorrectable: 0, pending: false, failure: false },
        xidErrors: [],
      };
    });
  }

  private gpu(index: number): SimGpu {
    const gpu = this.gpus[index];
    if (!gpu) throw new RangeError(`no GPU ${index} on ${this.opts.nodeId} (it has ${this.gpus.length})`);
    return gpu;
  }
}

/** What the agent's health rules make of the injected counters (node-agent/src/health/gpu-health.ts). */
function faultHealth(eccUncorrected: number): Health {
  return eccUncorrected > 0 ? { state: "failed", reasons: [`${eccUncorrected} volatile uncorrectable ECC error(s)`] } : { state: "healthy", reasons: [] };
}

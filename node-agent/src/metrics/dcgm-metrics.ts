import type { GpuTelemetry } from "@enclave/contracts";
import { Counter, Gauge, type Registry } from "prom-client";
import { CLOCK_EVENT_REASON_BITS } from "../gpu/nvidia-smi/values.js";

/** Where the node is, for labels. */
export interface NodeLabels {
  node: string;
  region: string;
  hostname: string;
}

/** The labels NVIDIA's DCGM exporter puts on every GPU series, plus where the node is. */
const DCGM_LABELS = ["gpu", "UUID", "device", "modelName", "Hostname", "region", "node"] as const;

type Series = { name: string; help: string; type: "gauge" | "counter"; value: (g: GpuTelemetry) => number | null | undefined };

const flag = (b: boolean | null | undefined) => (b === null || b === undefined ? null : b ? 1 : 0);
/** DCGM_FI_DEV_XID_ERRORS: the code of the last Xid error; 0 when there was none. */
const lastXid = (g: GpuTelemetry) => (g.xidErrors === undefined ? null : (g.xidErrors[g.xidErrors.length - 1]?.code ?? 0));

/** DCGM_FI_DEV_CLOCKS_EVENT_REASONS: NVML's bit mask of the active clock event (throttle) reasons. */
const clockEventMask = (g: GpuTelemetry) =>
  g.clockEventReasons === undefined ? null : CLOCK_EVENT_REASON_BITS.reduce((mask, [bit, name]) => (g.clockEventReasons!.includes(name) ? mask | Number(bit) : mask), 0);

/** Names, types and help as in dcgm-exporter's default counters, so its dashboards and alerts work unchanged. */
export const DCGM_SERIES: readonly Series[] = [
  { name: "DCGM_FI_DEV_GPU_TEMP", help: "GPU temperature (in C).", type: "gauge", value: (g) => g.temperatureC },
  { name: "DCGM_FI_DEV_MEMORY_TEMP", help: "Memory temperature (in C).", type: "gauge", value: (g) => g.memoryTemperatureC },
  { name: "DCGM_FI_DEV_POWER_USAGE", help: "Power draw (in W).", type: "gauge", value: (g) => g.powerW },
  { name: "DCGM_FI_DEV_FB_USED", help: "Framebuffer memory used (in MiB).", type: "gauge", value: (g) => g.memoryUsedMiB },
  { name: "DCGM_FI_DEV_FB_FREE", help: "Framebuffer memory free (in MiB).", type: "gauge", value: (g) => g.memoryFreeMiB ?? Math.max(0, g.memoryTotalMiB - g.memoryUsedMiB) },
  { name: "DCGM_FI_DEV_GPU_UTIL", help: "GPU utilization (in %).", type: "gauge", value: (g) => g.utilizationPct },
  { name: "DCGM_FI_DEV_SM_CLOCK", help: "SM clock frequency (in MHz).", type: "gauge", value: (g) => g.smClockMHz },
  { name: "DCGM_FI_DEV_MEM_CLOCK", help: "Memory clock frequency (in MHz).", type: "gauge", value: (g) => g.memoryClockMHz },
  { name: "DCGM_FI_DEV_ECC_SBE_VOL_TOTAL", help: "Total number of single-bit volatile ECC errors.", type: "counter", value: (g) => g.ecc?.correctedVolatile },
  { name: "DCGM_FI_DEV_ECC_DBE_VOL_TOTAL", help: "Total number of double-bit volatile ECC errors.", type: "counter", value: (g) => g.ecc?.uncorrectedVolatile ?? g.eccUncorrectedVolatile },
  { name: "DCGM_FI_DEV_ECC_SBE_AGG_TOTAL", help: "Total number of single-bit persistent ECC errors.", type: "counter", value: (g) => g.ecc?.correctedAggregate },
  { name: "DCGM_FI_DEV_ECC_DBE_AGG_TOTAL", help: "Total number of double-bit persistent ECC errors.", type: "counter", value: (g) => g.ecc?.uncorrectedAggregate },
  { name: "DCGM_FI_DEV_RETIRED_SBE", help: "Total number of retired pages due to single-bit errors.", type: "counter", value: (g) => g.retiredPages?.singleBit },
  { name: "DCGM_FI_DEV_RETIRED_DBE", help: "Total number of retired pages due to double-bit errors.", type: "counter", value: (g) => g.retiredPages?.doubleBit },
  { name: "DCGM_FI_DEV_RETIRED_PENDING", help: "Total number of pages pending retirement.", type: "counter", value: (g) => flag(g.retiredPages?.pending) },
  { name: "DCGM_FI_DEV_CORRECTABLE_REMAPPED_ROWS", help: "Number of remapped rows for correctable errors.", type: "counter", value: (g) => g.remappedRows?.correctable },
  { name: "DCGM_FI_DEV_UNCORRECTABLE_REMAPPED_ROWS", help: "Number of remapped rows for uncorrectable errors.", type: "counter", value: (g) => g.remappedRows?.uncorrectable },
  { name: "DCGM_FI_DEV_ROW_REMAP_FAILURE", help: "Whether remapping of rows has failed.", type: "gauge", value: (g) => flag(g.remappedRows?.failure) },
  { name: "DCGM_FI_DEV_XID_ERRORS", help: "Value of the last XID error encountered.", type: "gauge", value: lastXid },
  { name: "DCGM_FI_DEV_ROW_REMAP_PENDING", help: "Whether remapping of rows is pending.", type: "gauge", value: (g) => flag(g.remappedRows?.pending) },
  { name: "DCGM_FI_DEV_SLOWDOWN_TEMP", help: "Slowdown temperature for the device (in C).", type: "gauge", value: (g) => g.temperatureSlowdownC },
  { name: "DCGM_FI_DEV_POWER_MGMT_LIMIT", help: "Power management limit (in W).", type: "gauge", value: (g) => g.powerLimitW },
  { name: "DCGM_FI_DEV_CLOCKS_EVENT_REASONS", help: "Current clock event (throttle) reasons, NVML's bit mask.", type: "gauge", value: clockEventMask },
  // DCGM's profiling counter; nvidia-smi's utilization.gpu is the same ratio of time a kernel ran, so NVIDIA's dashboard shows it.
  { name: "DCGM_FI_PROF_GR_ENGINE_ACTIVE", help: "Ratio of time the graphics engine is active (from nvidia-smi's utilization.gpu).", type: "gauge", value: (g) => (g.utilizationPct === null ? null : g.utilizationPct / 100) },
];

/**
 * The GPUs under the DCGM exporter's names and labels. Series are rebuilt from the latest
 * reading on every scrape, so a vanished GPU leaves no stale series and a value the driver
 * does not report is absent rather than zero. Counters are DCGM's cumulative counts as read.
 */
export function registerDcgmMetrics(registry: Registry, labels: NodeLabels, gpus: () => readonly GpuTelemetry[]): void {
  for (const s of DCGM_SERIES) {
    const fill = (set: (l: Record<(typeof DCGM_LABELS)[number], string>, v: number) => void) => {
      for (const g of gpus()) {
        const v = s.value(g);
        if (v !== null && v !== undefined && Number.isFinite(v)) set(dcgmLabels(g, labels), v);
      }
    };
    if (s.type === "gauge") {
      new Gauge({
        name: s.name,
        help: s.help,
        labelNames: DCGM_LABELS,
        registers: [registry],
        collect() {
          this.reset();
          fill((l, v) => this.set(l, v));
        },
      });
    } else {
      new Counter({
        name: s.name,
        help: s.help,
        labelNames: DCGM_LABELS,
        registers: [registry],
        collect() {
          this.reset();
          fill((l, v) => this.inc(l, v));
        },
      });
    }
  }
}

function dcgmLabels(g: GpuTelemetry, l: NodeLabels): Record<(typeof DCGM_LABELS)[number], string> {
  return { gpu: String(g.index), UUID: g.uuid, device: `nvidia${g.index}`, modelName: g.name, Hostname: l.hostname, region: l.region, node: l.node };
}

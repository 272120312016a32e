import type { MigDevice } from "@enclave/contracts";
import { XMLParser } from "fast-xml-parser";
import { emptyReading, type GpuReading } from "../gpu-reading.js";
import { toBool, toCount, toNumber, toOnOff, toText, valueProblem, type GpuValueProblem } from "./values.js";

/** `nvidia-smi -q -x`, reduced to what the agent uses. */
export interface DetailLog {
  driverVersion: string | null;
  /** What the driver says is attached; more than `gpus.length` means GPUs are missing from the output. */
  attachedGpus: number | null;
  gpus: GpuReading[];
}

export type DetailXmlResult = { ok: true; log: DetailLog } | { ok: false; error: string };

const parser = new XMLParser({
  ignoreAttributes: false,
  attributeNamePrefix: "@_",
  parseTagValue: false,
  parseAttributeValue: false,
  trimValues: true,
  // nvidia-smi's XML uses no entities beyond the predefined ones; not expanding any rules out entity bombs.
  processEntities: false,
  isArray: (name) => name === "gpu" || name === "mig_device",
});

type Node = Record<string, unknown>;

function obj(v: unknown): Node | undefined {
  return v !== null && typeof v === "object" && !Array.isArray(v) ? (v as Node) : undefined;
}
function str(v: unknown): string | undefined {
  return typeof v === "string" ? v : typeof v === "number" ? String(v) : undefined;
}
function path(n: unknown, ...keys: string[]): unknown {
  let cur: unknown = n;
  for (const k of keys) cur = obj(cur)?.[k];
  return cur;
}
/** The first of several element names a driver generation may use. */
function first(n: Node | undefined, ...keys: string[]): unknown {
  for (const k of keys) if (n?.[k] !== undefined) return n[k];
  return undefined;
}
/** Sum of the numeric children that exist; null when none does. */
function sum(...vals: (number | null)[]): number | null {
  const nums = vals.filter((v): v is number => v !== null);
  const total = nums.reduce((a, b) => a + b, 0);
  return nums.length === 0 || !Number.isSafeInteger(total) ? null : total;
}

/**
 * Parses `nvidia-smi -q -x` across driver generations: `clocks_throttle_reasons` (until 530)
 * and `clocks_event_reasons`, `power_readings` and `gpu_power_readings`, `power_draw` and
 * `instant_power_draw`, single/double-bit and SRAM/DRAM ECC counters, absolute temperature
 * thresholds and T.Limit-relative ones.
 */
export function parseDetailXml(text: string): DetailXmlResult {
  let doc: unknown;
  try {
    doc = parser.parse(text);
  } catch (e) {
    return { ok: false, error: `nvidia-smi printed no valid XML: ${(e instanceof Error ? e.message : String(e)).split("\n")[0]?.slice(0, 160)}` };
  }
  const log = obj(path(doc, "nvidia_smi_log"));
  if (!log) return { ok: false, error: "nvidia-smi printed XML without an nvidia_smi_log element" };
  // A node has at most 64 GPUs (what a report carries); more is garbage, not worth walking.
  const gpuNodes = Array.isArray(log.gpu) ? log.gpu.slice(0, 64).map(obj).filter((g): g is Node => g !== undefined) : [];
  const gpus: GpuReading[] = [];
  gpuNodes.forEach((g, position) => {
    const r = gpuReading(g, position);
    if (r) gpus.push(r);
  });
  return { ok: true, log: { driverVersion: toText(str(log.driver_version), 32), attachedGpus: toCount(str(log.attached_gpus)), gpus } };
}

function gpuReading(g: Node, position: number): GpuReading | undefined {
  const uuid = toText(str(g.uuid), 100);
  if (!uuid) return undefined;
  const r = emptyReading(uuid);
  // -q -x carries no index; nvidia-smi lists GPUs in index order (PCI bus order by default).
  r.index = position;
  r.name = toText(str(g.product_name));
  r.pciBusId = toText(str(g["@_id"]) ?? str(path(g, "pci", "pci_bus_id")), 32);

  const fb = obj(g.fb_memory_usage);
  r.memoryTotalMiB = toNumber(str(fb?.total));
  r.memoryUsedMiB = toNumber(str(fb?.used));
  r.memoryFreeMiB = toNumber(str(fb?.free));
  const util = obj(g.utilization);
  r.utilizationPct = toNumber(str(util?.gpu_util));
  r.memoryUtilizationPct = toNumber(str(util?.memory_util));
  r.fanSpeedPct = toNumber(str(g.fan_speed));
  r.performanceState = toText(str(g.performance_state), 8);

  temperatures(obj(g.temperature), r);

  const power = obj(first(g, "gpu_power_readings", "power_readings"));
  r.powerW = toNumber(str(first(power, "power_draw", "instant_power_draw", "average_power_draw")));
  r.powerLimitW = toNumber(str(first(power, "enforced_power_limit", "current_power_limit", "power_limit")));

  const clocks = obj(g.clocks);
  r.smClockMHz = toNumber(str(clocks?.sm_clock));
  r.memoryClockMHz = toNumber(str(clocks?.mem_clock));
  r.pcieLinkGen = toCount(str(first(obj(path(g, "pci", "pci_gpu_link_info", "pcie_gen")), "device_current_link_gen", "current_link_gen")));
  r.pcieLinkWidth = toCount(str(path(g, "pci", "pci_gpu_link_info", "link_widths", "current_link_width")));

  r.clockEventReasons = clockReasons(first(g, "clocks_event_reasons", "clocks_throttle_reasons"));

  r.eccMode = toOnOff(str(path(g, "ecc_mode", "current_ecc")));
  const ecc = obj(g.ecc_errors);
  const vol = eccCounts(obj(ecc?.volatile));
  const agg = eccCounts(obj(ecc?.aggregate));
  r.eccCorrectedVolatile = vol.corrected;
  r.eccUncorrectedVolatile = vol.uncorrected;
  r.eccCorrectedAggregate = agg.corrected;
  r.eccUncorrectedAggregate = agg.uncorrected;

  const retired = obj(g.retired_pages);
  r.retiredSingleBit = toCount(str(path(retired, "multiple_single_bit_retirement", "retired_count")));
  r.retiredDoubleBit = toCount(str(path(retired, "double_bit_retirement", "retired_count")));
  r.retiredPending = toBool(str(retired?.pending_retirement)) ?? toBool(str(retired?.pending_blacklist));

  const remap = obj(g.remapped_rows);
  r.remappedCorrectable = toCount(str(remap?.remapped_row_corr));
  r.remappedUncorrectable = toCount(str(remap?.remapped_row_unc));
  r.remappedPending = toBool(str(remap?.remapped_row_pending));
  r.remappedFailure = toBool(str(remap?.remapped_row_failure));

  r.migMode = toOnOff(str(path(g, "mig_mode", "current_mig")));
  r.migDevices = migDevices(path(g, "mig_devices", "mig_device"));
  r.problems = problemsIn(g);
  return r;
}

/**
 * Absolute thresholds where the driver prints them (`gpu_temp_slow_threshold`); newer
 * drivers print T.Limit-relative ones instead: `gpu_temp_tlimit` is the headroom below the
 * maximum operating temperature, the thresholds are offsets on that scale, so the absolute
 * slowdown temperature is current + headroom - slowdown offset.
 */
function temperatures(t: Node | undefined, r: GpuReading): void {
  const current = toNumber(str(t?.gpu_temp));
  r.temperatureC = current;
  r.memoryTemperatureC = toNumber(str(t?.memory_temp));
  r.temperatureSlowdownC = toNumber(str(t?.gpu_temp_slow_threshold));
  r.temperatureShutdownC = toNumber(str(t?.gpu_temp_max_threshold));
  const headroom = toNumber(str(t?.gpu_temp_tlimit));
  if (current === null || headroom === null) return;
  const slowOffset = toNumber(str(t?.gpu_temp_slow_tlimit_threshold));
  const shutdownOffset = toNumber(str(t?.gpu_temp_max_tlimit_threshold));
  if (r.temperatureSlowdownC === null && slowOffset !== null) r.temperatureSlowdownC = current + headroom - slowOffset;
  if (r.temperatureShutdownC === null && shutdownOffset !== null) r.temperatureShutdownC = current + headroom - shutdownOffset;
}

/** Active reasons from `<clocks_event_reason_sw_thermal_slowdown>Active</...>` (or `clocks_throttle_reason_...`). */
function clockReasons(v: unknown): string[] | null {
  const n = obj(v);
  if (!n) return null;
  const active: string[] = [];
  let seen = false;
  for (const [k, val] of Object.entries(n)) {
    const m = /^clocks_(?:event|throttle)_reason_(.+)$/.exec(k);
    if (!m?.[1]) continue;
    const b = toBool(str(val));
    if (b === null) continue;
    seen = true;
    if (b) active.push(m[1] === "display_clocks_setting" ? "display_clock_setting" : m[1]);
  }
  return seen ? active : null;
}

/** Both ECC layouts: `single_bit/total` + `double_bit/total`, or SRAM and DRAM counters. */
function eccCounts(n: Node | undefined): { corrected: number | null; uncorrected: number | null } {
  if (!n) return { corrected: null, uncorrected: null };
  const sb = obj(n.single_bit);
  const db = obj(n.double_bit);
  if (sb || db) return { corrected: toCount(str(sb?.total)), uncorrected: toCount(str(db?.total)) };
  const c = (k: string) => toCount(str(n[k]));
  return {
    corrected: sum(c("sram_correctable"), c("dram_correctable")),
    uncorrected: sum(c("sram_uncorrectable"), c("sram_uncorrectable_parity"), c("sram_uncorrectable_secded"), c("dram_uncorrectable")),
  };
}

function migDevices(v: unknown): MigDevice[] | null {
  if (!Array.isArray(v)) return null;
  const out: MigDevice[] = [];
  for (const d of v.slice(0, 64)) {
    const n = obj(d);
    const index = toCount(str(n?.index));
    if (!n || index === null) continue;
    out.push({
      index,
      gpuInstanceId: toCount(str(n.gpu_instance_id)),
      computeInstanceId: toCount(str(n.compute_instance_id)),
      memoryTotalMiB: toNumber(str(path(n, "fb_memory_usage", "total"))),
      memoryUsedMiB: toNumber(str(path(n, "fb_memory_usage", "used"))),
    });
  }
  return out;
}

/** `[GPU requires reset]` and its kin anywhere in the GPU's elements (bounded walk). */
function problemsIn(g: Node): GpuValueProblem[] {
  const found = new Set<GpuValueProblem>();
  let budget = 5000;
  const walk = (v: unknown): void => {
    if (--budget < 0) return;
    if (typeof v === "string") {
      const p = valueProblem(v);
      if (p) found.add(p);
      return;
    }
    if (Array.isArray(v)) v.forEach(walk);
    else if (v && typeof v === "object") Object.values(v).forEach(walk);
  };
  walk(g);
  return [...found];
}

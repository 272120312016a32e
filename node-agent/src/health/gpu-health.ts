import type { Health, HealthThresholds, XidEvent } from "@enclave/contracts";
import type { GpuReading } from "../gpu/gpu-reading.js";

/** Everything the verdict on one GPU depends on. */
export interface GpuHealthInput {
  reading: GpuReading;
  /** Corrected (volatile) ECC errors per hour lately; null while unknown. */
  correctedEccPerHour: number | null;
  /** This GPU's Xid errors within the window. */
  xids: readonly XidEvent[];
}

type Thresholds = Pick<HealthThresholds, "temperatureMarginC" | "correctedEccPerHour" | "criticalXids" | "warningXids">;

interface Finding {
  severity: "failed" | "degraded";
  reason: string;
}

/** One check: what it found, if anything. Each rule reads one signal, so the table is the policy. */
type Rule = (i: GpuHealthInput, t: Thresholds) => Finding[];

const has = (r: GpuReading, reason: string) => r.clockEventReasons?.includes(reason) ?? false;

export const GPU_HEALTH_RULES: readonly Rule[] = [
  ({ reading: r }) => (r.problems.includes("requires-reset") ? [{ severity: "failed", reason: "nvidia-smi: GPU requires reset" }] : []),
  ({ reading: r }) => (r.problems.includes("lost") ? [{ severity: "failed", reason: "nvidia-smi: GPU is lost" }] : []),
  ({ reading: r }) =>
    r.eccUncorrectedVolatile !== null && r.eccUncorrectedVolatile > 0
      ? [{ severity: "failed", reason: `${r.eccUncorrectedVolatile} volatile uncorrectable ECC error(s)` }]
      : [],
  ({ reading: r }) => (r.remappedFailure === true ? [{ severity: "failed", reason: "row remapping failed" }] : []),
  ({ xids }, t) => xidFindings(xids, t.criticalXids, "failed"),
  ({ reading: r }) => (r.remappedPending === true ? [{ severity: "degraded", reason: "row remap pending (applies at the next GPU reset)" }] : []),
  ({ reading: r }) => (r.retiredPending === true ? [{ severity: "degraded", reason: "page retirement pending (applies at the next GPU reset)" }] : []),
  ({ correctedEccPerHour: rate }, t) =>
    rate !== null && rate > t.correctedEccPerHour
      ? [{ severity: "degraded", reason: `corrected ECC errors rising at ${Math.round(rate)}/h (threshold ${t.correctedEccPerHour}/h)` }]
      : [],
  ({ reading: r }) =>
    has(r, "hw_thermal_slowdown") || has(r, "sw_thermal_slowdown")
      ? [{ severity: "degraded", reason: `thermal throttling (${["hw_thermal_slowdown", "sw_thermal_slowdown"].filter((x) => has(r, x)).join(", ")})` }]
      : [],
  ({ reading: r }) => (has(r, "hw_power_brake_slowdown") ? [{ severity: "degraded", reason: "power-brake throttling (hw_power_brake_slowdown)" }] : []),
  ({ reading: r }) =>
    has(r, "hw_slowdown") && !has(r, "hw_thermal_slowdown") && !has(r, "hw_power_brake_slowdown")
      ? [{ severity: "degraded", reason: "hardware slowdown (hw_slowdown)" }]
      : [],
  ({ reading: r }, t) => temperatureFindings(r, t.temperatureMarginC),
  ({ xids }, t) => xidFindings(xids, t.warningXids, "degraded"),
];

/**
 * The GPU's health from its reading, as in DESIGN §5: anything that loses data or needs a
 * reset fails it; anything that will hurt later or slows it down degrades it. Reasons list
 * every finding, failures first.
 */
export function gpuHealth(input: GpuHealthInput, thresholds: Thresholds): Health {
  const findings = GPU_HEALTH_RULES.flatMap((rule) => rule(input, thresholds));
  const failed = findings.filter((f) => f.severity === "failed").map((f) => f.reason);
  const degraded = findings.filter((f) => f.severity === "degraded").map((f) => f.reason);
  if (failed.length > 0) return { state: "failed", reasons: [...failed, ...degraded] };
  if (degraded.length > 0) return { state: "degraded", reasons: degraded };
  return { state: "healthy", reasons: [] };
}

function temperatureFindings(r: GpuReading, marginC: number): Finding[] {
  const t = r.temperatureC;
  if (t === null) return [];
  if (r.temperatureShutdownC !== null && t >= r.temperatureShutdownC) {
    return [{ severity: "failed", reason: `temperature ${t} °C at or above the shutdown temperature (${r.temperatureShutdownC} °C)` }];
  }
  if (r.temperatureSlowdownC !== null && t >= r.temperatureSlowdownC - marginC) {
    return [{ severity: "degraded", reason: `temperature ${t} °C within ${marginC} °C of the slowdown temperature (${r.temperatureSlowdownC} °C)` }];
  }
  return [];
}

function xidFindings(xids: readonly XidEvent[], codes: readonly number[], severity: Finding["severity"]): Finding[] {
  const seen = new Map<number, XidEvent>();
  for (const x of xids) if (codes.includes(x.code)) seen.set(x.code, x);
  return [...seen.values()].map((x) => ({ severity, reason: `Xid ${x.code} at ${new Date(x.time).toISOString()}: ${describeXid(x.message)}` }));
}

/** The driver's words after the code and the pid/name of the process that saw it. */
function describeXid(message: string): string {
  const after = message.replace(/^.*?NVRM: Xid \([^)]*\): \d+,?\s*/, "").replace(/^pid=[^,]*,\s*(?:name=[^,]*,\s*)?/, "");
  return after.slice(0, 120) || "(no detail)";
}

/**
 * What nvidia-smi prints in place of a value: `[N/A]`, `N/A`, `[Not Supported]`,
 * `[Requested functionality has been deprecated]`, `[Unknown Error]`, `[GPU requires reset]`,
 * `[Insufficient Permissions]`, ... Every bracketed value is one of these; an empty cell too.
 */
export function isNoValue(raw: string | undefined | null): boolean {
  if (raw === undefined || raw === null) return true;
  const v = raw.trim();
  return v === "" || v === "N/A" || v === "None" || (v.startsWith("[") && v.endsWith("]"));
}

/** Values that say the GPU itself is in trouble, not merely that a number is missing. */
export type GpuValueProblem = "requires-reset" | "lost";

export function valueProblem(raw: string | undefined | null): GpuValueProblem | undefined {
  if (!raw) return undefined;
  if (/GPU requires reset/i.test(raw)) return "requires-reset";
  if (/GPU is lost/i.test(raw)) return "lost";
  return undefined;
}

/**
 * The number at the start of a value, units ignored: `45 C`, `27.22 W`, `81559 MiB`,
 * `16x`, `33.4 %`, `-2 C`. Null for no value or anything else.
 */
export function toNumber(raw: string | undefined | null): number | null {
  if (isNoValue(raw)) return null;
  const m = /^\s*(-?\d+(?:\.\d+)?)(?:\s*[A-Za-z%/()]*\s*)*$/.exec(raw as string);
  if (!m?.[1]) return null;
  const n = Number(m[1]);
  return Number.isFinite(n) ? n : null;
}

/** A whole, non-negative count (`0`, `12`); null for anything else. */
export function toCount(raw: string | undefined | null): number | null {
  const n = toNumber(raw);
  return n !== null && Number.isSafeInteger(n) && n >= 0 ? n : null;
}

/** `Yes`/`Active`/`Enabled` → true, `No`/`Not Active`/`Disabled` → false, else null. */
export function toBool(raw: string | undefined | null): boolean | null {
  if (isNoValue(raw)) return null;
  const v = (raw as string).trim().toLowerCase();
  if (v === "yes" || v === "active" || v === "enabled" || v === "true") return true;
  if (v === "no" || v === "not active" || v === "disabled" || v === "false") return false;
  return null;
}

export function toOnOff(raw: string | undefined | null): "enabled" | "disabled" | null {
  const b = toBool(raw);
  return b === null ? null : b ? "enabled" : "disabled";
}

export function toText(raw: string | undefined | null, max = 200): string | null {
  if (isNoValue(raw)) return null;
  return (raw as string).trim().slice(0, max);
}

/**
 * The bits of `clocks_event_reasons.active` (NVML's nvmlClocksEventReason*), by the names
 * nvidia-smi gives them in its per-reason fields and XML.
 */
export const CLOCK_EVENT_REASON_BITS: readonly (readonly [bigint, string])[] = [
  [0x1n, "gpu_idle"],
  [0x2n, "applications_clocks_setting"],
  [0x4n, "sw_power_cap"],
  [0x8n, "hw_slowdown"],
  [0x10n, "sync_boost"],
  [0x20n, "sw_thermal_slowdown"],
  [0x40n, "hw_thermal_slowdown"],
  [0x80n, "hw_power_brake_slowdown"],
  [0x100n, "display_clock_setting"],
];

/** `0x0000000000000044` → `["sw_power_cap", "hw_thermal_slowdown"]`; null for no value or garbage. */
export function clockEventReasonsFromMask(raw: string | undefined | null): string[] | null {
  if (isNoValue(raw)) return null;
  const v = (raw as string).trim();
  if (!/^0x[0-9a-fA-F]{1,16}$/.test(v)) return null;
  const mask = BigInt(v);
  return CLOCK_EVENT_REASON_BITS.filter(([bit]) => (mask & bit) !== 0n).map(([, name]) => name);
}

/**
 * A PCI address reduced to what both nvidia-smi (`00000000:9B:00.0`) and the kernel's Xid
 * lines (`0000:9b:00`) carry: domain, bus and device, as numbers.
 */
export function pciKey(raw: string | undefined | null): string | null {
  if (!raw) return null;
  const m = /^(?:PCI:)?([0-9a-fA-F]{1,8}):([0-9a-fA-F]{1,2}):([0-9a-fA-F]{1,2})(?:\.[0-7])?$/.exec(raw.trim());
  if (!m?.[1] || !m[2] || !m[3]) return null;
  return `${parseInt(m[1], 16)}:${parseInt(m[2], 16)}:${parseInt(m[3], 16)}`;
}

/** What a GPU model looks like to nvidia-smi, and how it heats up. */
export interface GpuModelSpec {
  name: string;
  memoryTotalMiB: number;
  powerLimitW: number;
  idlePowerW: number;
  /** Steady power at 100 % utilisation; below the limit, as real engines rarely hit it. */
  busyPowerW: number;
  idleTempC: number;
  busyTempC: number;
  /** Where the driver slows the GPU down and where it shuts it off (nvidia-smi's `gpu_temp_slow_threshold`, `gpu_temp_max_threshold`). */
  slowdownTempC: number;
  shutdownTempC: number;
  /** SM clock idle and busy, memory clock (MHz). */
  smClockIdleMHz: number;
  smClockMaxMHz: number;
  memoryClockMHz: number;
}

/**
 * The H100's and A100's clocks are those of the public captures in node-agent/fixtures (H100
 * idle 345, busy 1980, memory 2619 MHz; A100 maximum 1410, memory 1593 MHz); the temperature
 * thresholds are the A100 capture's (89 °C slowdown, 92 °C shutdown). Other clocks are the
 * data sheets' boost clocks.
 */
const THRESHOLDS = { slowdownTempC: 89, shutdownTempC: 92 };

export const GPU_MODELS: readonly GpuModelSpec[] = [
  { name: "NVIDIA H100 80GB HBM3", memoryTotalMiB: 81559, powerLimitW: 700, idlePowerW: 70, busyPowerW: 600, idleTempC: 33, busyTempC: 70, ...THRESHOLDS, smClockIdleMHz: 345, smClockMaxMHz: 1980, memoryClockMHz: 2619 },
  { name: "NVIDIA A100-SXM4-80GB", memoryTotalMiB: 81920, powerLimitW: 400, idlePowerW: 60, busyPowerW: 350, idleTempC: 32, busyTempC: 66, ...THRESHOLDS, smClockIdleMHz: 210, smClockMaxMHz: 1410, memoryClockMHz: 1593 },
  { name: "NVIDIA H200", memoryTotalMiB: 143771, powerLimitW: 700, idlePowerW: 75, busyPowerW: 620, idleTempC: 34, busyTempC: 72, ...THRESHOLDS, smClockIdleMHz: 345, smClockMaxMHz: 1980, memoryClockMHz: 3201 },
  { name: "NVIDIA L40S", memoryTotalMiB: 46068, powerLimitW: 350, idlePowerW: 35, busyPowerW: 300, idleTempC: 30, busyTempC: 68, ...THRESHOLDS, smClockIdleMHz: 210, smClockMaxMHz: 2520, memoryClockMHz: 9001 },
];

/** The spec for a model name; unknown names get an H100's numbers under the name asked for. */
export function gpuModelSpec(name: string): GpuModelSpec {
  const known = GPU_MODELS.find((m) => m.name === name);
  if (known) return known;
  const h100 = GPU_MODELS[0] as GpuModelSpec;
  return { ...h100, name };
}

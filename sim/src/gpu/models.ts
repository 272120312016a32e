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
}

export const GPU_MODELS: readonly GpuModelSpec[] = [
  { name: "NVIDIA H100 80GB HBM3", memoryTotalMiB: 81559, powerLimitW: 700, idlePowerW: 70, busyPowerW: 600, idleTempC: 33, busyTempC: 70 },
  { name: "NVIDIA A100-SXM4-80GB", memoryTotalMiB: 81920, powerLimitW: 400, idlePowerW: 60, busyPowerW: 350, idleTempC: 32, busyTempC: 66 },
  { name: "NVIDIA H200", memoryTotalMiB: 143771, powerLimitW: 700, idlePowerW: 75, busyPowerW: 620, idleTempC: 34, busyTempC: 72 },
  { name: "NVIDIA L40S", memoryTotalMiB: 46068, powerLimitW: 350, idlePowerW: 35, busyPowerW: 300, idleTempC: 30, busyTempC: 68 },
];

/** The spec for a model name; unknown names get an H100's numbers under the name asked for. */
export function gpuModelSpec(name: string): GpuModelSpec {
  const known = GPU_MODELS.find((m) => m.name === name);
  if (known) return known;
  const h100 = GPU_MODELS[0] as GpuModelSpec;
  return { ...h100, name };
}

import type { GpuTelemetry } from "@enclave/contracts";

/** Where GPU telemetry comes from: simulated GPUs here, nvidia-smi on real hardware. */
export interface GpuSource {
  read(): Promise<GpuTelemetry[]>;
  /** Findings about the node's GPUs as a whole from the last read (GPUs attached but not listed); they degrade the node. */
  problems?(): string[];
}

/** The last GPU reading: the GPUs, or why there are none. */
export type GpuSample = { ok: true; gpus: GpuTelemetry[] } | { ok: false; error: string };

/** Reads a source with a deadline, so a hung nvidia-smi makes the node unknown instead of stuck. */
export async function sampleGpus(source: GpuSource, timeoutMs: number): Promise<GpuSample> {
  let timer: NodeJS.Timeout | undefined;
  const timeout = new Promise<never>((_, reject) => {
    timer = setTimeout(() => reject(new Error(`GPU source did not answer within ${timeoutMs} ms`)), timeoutMs);
  });
  try {
    const gpus = await Promise.race([source.read(), timeout]);
    if (!Array.isArray(gpus)) return { ok: false, error: "GPU source returned no list" };
    return { ok: true, gpus };
  } catch (e) {
    return { ok: false, error: e instanceof Error ? e.message : String(e) };
  } finally {
    clearTimeout(timer);
  }
}

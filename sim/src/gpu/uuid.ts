import { createHash } from "node:crypto";

/** `GPU-xxxxxxxx-xxxx-xxxx-xxxx-xxxxxxxxxxxx`, the same for the same node and index on every run. */
export function simGpuUuid(nodeId: string, index: number): string {
  const h = createHash("sha256").update(`enclave-sim-gpu\0${nodeId}\0${index}`).digest("hex");
  return `GPU-${h.slice(0, 8)}-${h.slice(8, 12)}-${h.slice(12, 16)}-${h.slice(16, 20)}-${h.slice(20, 32)}`;
}

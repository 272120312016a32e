import type { XidEvent } from "@enclave/contracts";
import { pciKey } from "./nvidia-smi/values.js";

/** An Xid error as the kernel log states it, with the GPU's PCI address. */
export interface XidRecord extends XidEvent {
  /** `pciKey` of the GPU the driver named. */
  pci: string;
}

/**
 * `NVRM: Xid (PCI:0000:9b:00): 119, pid=2024380, name=nvidia-smi, Timeout after 6s ...`;
 * older drivers print the address without `PCI:`.
 */
const XID_LINE = /NVRM: Xid \(((?:PCI:)?[0-9a-fA-F]{1,8}:[0-9a-fA-F]{1,2}:[0-9a-fA-F]{1,2}(?:\.[0-7])?)\): (\d{1,5}),?\s*(.*)$/;

export function parseXid(message: string, time: number): XidRecord | undefined {
  const m = XID_LINE.exec(message);
  if (!m?.[1] || !m[2]) return undefined;
  const pci = pciKey(m[1]);
  if (pci === null) return undefined;
  return { pci, code: Number(m[2]), time, message: message.slice(message.indexOf("NVRM: Xid")).slice(0, 300) };
}

/**
 * Keeps the Xid errors of the last `windowMs` per GPU: the latest of each code, for at most
 * `perGpu` codes, so health can weigh recent ones and metrics can show the last code. By
 * code rather than the last N events: applications raise some Xids by the hundred (13, 31,
 * 43 on every faulting kernel), and such a flood must not push out the one Xid 79 or 48
 * that failed the GPU.
 */
export class XidHistory {
  private readonly byPci = new Map<string, Map<number, XidEvent>>();

  constructor(
    private readonly windowMs: number,
    private readonly perGpu = 16,
    private readonly maxGpus = 64,
  ) {}

  add(records: readonly XidRecord[]): void {
    for (const r of records) {
      let codes = this.byPci.get(r.pci);
      if (!codes) {
        // A flood of addresses that are no GPU of ours must not grow the map without end.
        if (this.byPci.size >= this.maxGpus) continue;
        codes = new Map();
        this.byPci.set(r.pci, codes);
      }
      const seen = codes.get(r.code);
      if (seen && seen.time > r.time) continue;
      codes.delete(r.code);
      codes.set(r.code, { code: r.code, time: r.time, message: r.message });
      if (codes.size > this.perGpu) {
        const oldest = [...codes.values()].reduce((a, b) => (b.time < a.time ? b : a));
        codes.delete(oldest.code);
      }
    }
  }

  /** The recent errors of the GPU at `pciBusId`, the latest of each code, oldest first. */
  recent(pciBusId: string | null | undefined, now: number): XidEvent[] {
    const key = pciKey(pciBusId);
    if (key === null) return [];
    const codes = this.byPci.get(key);
    if (!codes) return [];
    for (const [code, x] of codes) if (now - x.time > this.windowMs) codes.delete(code);
    return [...codes.values()].sort((a, b) => a.time - b.time);
  }
}

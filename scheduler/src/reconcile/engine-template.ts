import { createHash } from "node:crypto";
import { canonicalJson } from "@enclave/audit";
import type { Deployment } from "@enclave/contracts";

/**
 * Deployment fields that only say where replicas go. Every other field (model, engine, image,
 * args, GPUs, VRAM, and whatever engine settings come later) shapes the running engine, so a
 * change to it rolls the replicas; a change to these does not.
 */
const PLACEMENT_ONLY: ReadonlySet<string> = new Set(["name", "replicasPerRegion", "jurisdiction", "selectors", "allowDegraded"]);

const memo = new WeakMap<Deployment, string>();

/** A short digest of what a replica's engine is started with: equal digests, interchangeable replicas. */
export function engineTemplate(dep: Deployment): string {
  let t = memo.get(dep);
  if (t === undefined) {
    const engine = Object.fromEntries(Object.entries(dep).filter(([k, v]) => !PLACEMENT_ONLY.has(k) && v !== undefined));
    t = createHash("sha256").update(canonicalJson(engine)).digest("hex").slice(0, 16);
    memo.set(dep, t);
  }
  return t;
}

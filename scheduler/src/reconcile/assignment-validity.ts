import type { Backend, Deployment, NodeReport, Placement } from "@enclave/contracts";
import { gpuModelMatches } from "../placement/free-gpus.js";
import { nodeIdMatches } from "../placement/node-pattern.js";
import { placementBackendId } from "./placement-backend-id.js";

/** What a pass knows about the fleet, indexed once. */
export interface FleetView {
  nodes: ReadonlyMap<string, NodeReport>;
  /** Every reported backend by id (ids carry their node). */
  backends: ReadonlyMap<string, Backend>;
  cordoned: ReadonlySet<string>;
  now: number;
  startTimeoutMs: number;
}

export interface ReplicaSlot {
  deployment: Deployment;
  region: string;
  replica: number;
}

/** A placement that can no longer serve; `failure` marks it as the replica's fault (counted for backoff). */
export interface Fall {
  reason: string;
  failure: boolean;
}

export function backendOf(view: FleetView, slot: ReplicaSlot, p: Placement): Backend | undefined {
  return view.backends.get(placementBackendId(slot, p));
}

/**
 * Why a placement can no longer serve at all, or undefined. Such a replica is placed again at once,
 * in its own region, with a new generation; residency breaches are always here, never a soft move.
 */
export function fallenBecause(view: FleetView, slot: ReplicaSlot, p: Placement & { placedAt?: number | undefined; template?: string | undefined }, template: string): Fall | undefined {
  const dep = slot.deployment;
  const node = view.nodes.get(p.nodeId);
  if (node === undefined) return { reason: `node ${p.nodeId} is gone`, failure: false };
  if (node.region !== slot.region) return { reason: `node ${p.nodeId} is no longer in ${slot.region}`, failure: false };
  if (dep.jurisdiction !== undefined && node.jurisdiction !== dep.jurisdiction) return { reason: `node ${p.nodeId} is not under ${dep.jurisdiction} jurisdiction`, failure: false };
  if (node.health.state === "failed") return { reason: `node ${p.nodeId} failed`, failure: false };
  const failedGpu = node.gpus.find((g) => g.health.state === "failed" && p.gpus.includes(g.uuid));
  if (failedGpu) return { reason: `GPU ${failedGpu.uuid} failed on node ${p.nodeId}`, failure: false };
  const b = backendOf(view, slot, p);
  if (b?.state === "failed") return { reason: `backend failed on node ${p.nodeId}${b.detail ? `: ${b.detail.slice(0, 200)}` : ""}`, failure: true };
  if (b === undefined) {
    if (p.template !== undefined && p.template !== template) return { reason: "engine settings changed before it started", failure: false };
    if (p.placedAt !== undefined && view.now - p.placedAt > view.startTimeoutMs) {
      return { reason: `node ${p.nodeId} has not reported it within ${Math.round(view.startTimeoutMs / 1000)} s of its placement`, failure: true };
    }
  }
  return undefined;
}

/**
 * Why a placement that still serves should move, or undefined. Such a replica moves without a
 * capacity dip: a replacement starts elsewhere first, and the old one stops once it is ready.
 */
export function moveBecause(view: FleetView, slot: ReplicaSlot, p: Placement & { template?: string | undefined }, template: string): string | undefined {
  const dep = slot.deployment;
  const node = view.nodes.get(p.nodeId);
  if (node === undefined) return `node ${p.nodeId} is gone`;
  if (view.cordoned.has(p.nodeId)) return `node ${p.nodeId} is cordoned`;
  if (node.health.state === "unknown") return `node ${p.nodeId} health unknown`;
  for (const uuid of p.gpus) {
    const g = node.gpus.find((x) => x.uuid === uuid);
    if (g === undefined) return `GPU ${uuid} not reported by node ${p.nodeId}`;
    if (g.health.state === "unknown") return `GPU ${uuid} health unknown on node ${p.nodeId}`;
    if (!gpuModelMatches(dep, g)) return `GPU ${uuid} (${g.name}) no longer matches selectors.gpuModels`;
  }
  if (p.gpus.length !== dep.gpusPerReplica) return `deployment now needs ${dep.gpusPerReplica} GPUs per replica`;
  if (p.template !== undefined && p.template !== template) return "engine settings changed";
  const b = backendOf(view, slot, p);
  if (b !== undefined && (b.model !== dep.model || b.engine !== dep.engine)) return `deployment now serves ${dep.model} on ${dep.engine}`;
  if (!nodeIdMatches(dep.selectors?.nodes, p.nodeId)) return `node ${p.nodeId} no longer matches selectors.nodes`;
  return undefined;
}

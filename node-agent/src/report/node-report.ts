import type { Backend, NodeReport } from "@enclave/contracts";
import type { GpuSample } from "../gpu/gpu-source.js";
import { nodeHealth } from "./node-health.js";

export interface NodeIdentity {
  nodeId: string;
  region: string;
  jurisdiction: string;
  agentVersion: string;
}

/** The heartbeat body: who this node is, how its hardware is, what it runs. */
export function buildNodeReport(id: NodeIdentity, now: number, gpus: GpuSample, backends: readonly Backend[]): NodeReport {
  return {
    nodeId: id.nodeId,
    region: id.region,
    jurisdiction: id.jurisdiction,
    time: Math.floor(now),
    agentVersion: id.agentVersion,
    health: nodeHealth(gpus),
    gpus: gpus.ok ? gpus.gpus : [],
    backends: [...backends],
  };
}

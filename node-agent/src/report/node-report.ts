import type { Backend, BmcStatus, HostStats, NodeReport } from "@enclave/contracts";
import type { GpuSample } from "../gpu/gpu-source.js";
import { nodeHealth, type NodeFindings } from "./node-health.js";

export interface NodeIdentity {
  nodeId: string;
  region: string;
  jurisdiction: string;
  agentVersion: string;
}

/** What the agent read from the node besides its GPUs. */
export interface NodeHardware {
  bmc?: BmcStatus;
  host?: HostStats;
  /** Node-wide findings (GPU source, BMC) that bear on its health. */
  findings?: NodeFindings;
}

/** The heartbeat body: who this node is, how its hardware is, what it runs. */
export function buildNodeReport(id: NodeIdentity, now: number, gpus: GpuSample, backends: readonly Backend[], hardware: NodeHardware = {}): NodeReport {
  const report: NodeReport = {
    nodeId: id.nodeId,
    region: id.region,
    jurisdiction: id.jurisdiction,
    time: Math.floor(now),
    agentVersion: id.agentVersion,
    health: nodeHealth(gpus, hardware.findings),
    gpus: gpus.ok ? gpus.gpus : [],
    backends: [...backends],
  };
  if (hardware.bmc) report.bmc = hardware.bmc;
  if (hardware.host) report.host = hardware.host;
  return report;
}

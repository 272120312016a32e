import { backendId, type Deployment, type NodeReport, type ReplicaAssignment } from "@enclave/contracts";

/**
 * Why an existing placement can no longer stand, or undefined when it can. A replica whose
 * placement falls is placed again in its own region with a new generation.
 */
export function invalidBecause(
  dep: Deployment,
  region: string,
  replica: number,
  a: ReplicaAssignment & { nodeId: string },
  node: NodeReport | undefined,
): string | undefined {
  if (node === undefined) return `node ${a.nodeId} is gone`;
  if (node.region !== region) return `node ${a.nodeId} is no longer in ${region}`;
  if (dep.jurisdiction !== undefined && node.jurisdiction !== dep.jurisdiction) return `node ${a.nodeId} is not under ${dep.jurisdiction} jurisdiction`;
  if (node.health.state === "failed") return `node ${a.nodeId} failed`;
  if (a.gpus.length !== dep.gpusPerReplica) return `deployment now needs ${dep.gpusPerReplica} GPUs per replica`;
  const failedGpu = node.gpus.find((g) => a.gpus.includes(g.uuid) && g.health.state === "failed");
  if (failedGpu) return `GPU ${failedGpu.uuid} failed on node ${a.nodeId}`;
  const id = backendId(a.nodeId, { deployment: dep.name, region, replica, generation: a.generation });
  const b = node.backends.find((x) => x.id === id);
  if (b?.state === "failed") return `backend failed on node ${a.nodeId}${b.detail ? `: ${b.detail.slice(0, 200)}` : ""}`;
  if (b !== undefined && (b.model !== dep.model || b.engine !== dep.engine)) return `deployment now serves ${dep.model} on ${dep.engine}`;
  return undefined;
}

import { backendId, replicaKey, type Deployment, type DeploymentStatus, type NodeReport, type RegionStatus, type ReplicaAssignment } from "@enclave/contracts";

const MAX_DETAILS = 5;

/**
 * Per deployment and region: how many replicas serve, and in words why not all of them.
 * `unplaced` maps replica keys that could not be placed to the placement's reason.
 */
export function deploymentStatus(
  deployments: readonly Deployment[],
  nodes: ReadonlyMap<string, NodeReport>,
  assignments: ReadonlyMap<string, ReplicaAssignment>,
  unplaced: ReadonlyMap<string, string>,
): DeploymentStatus[] {
  return deployments.map((dep) => ({
    name: dep.name,
    model: dep.model,
    regions: Object.keys(dep.replicasPerRegion)
      .sort()
      .map((region) => regionStatus(dep, region, nodes, assignments, unplaced)),
  }));
}

function regionStatus(
  dep: Deployment,
  region: string,
  nodes: ReadonlyMap<string, NodeReport>,
  assignments: ReadonlyMap<string, ReplicaAssignment>,
  unplaced: ReadonlyMap<string, string>,
): RegionStatus {
  const desired = dep.replicasPerRegion[region] ?? 0;
  let ready = 0;
  const unplacedReasons: string[] = [];
  const waiting: string[] = [];
  for (let replica = 0; replica < desired; replica++) {
    const key = replicaKey({ deployment: dep.name, region, replica });
    const a = assignments.get(key);
    if (a === undefined || a.nodeId === null) {
      unplacedReasons.push(unplaced.get(key) ?? "not placed yet");
      continue;
    }
    const id = backendId(a.nodeId, { deployment: dep.name, region, replica, generation: a.generation });
    const state = nodes.get(a.nodeId)?.backends.find((b) => b.id === id)?.state;
    if (state === "ready") ready++;
    else waiting.push(`replica ${replica} on ${a.nodeId}: ${state ?? "start queued"}`);
  }
  if (unplacedReasons.length > 0) {
    return { region, desired, ready, state: "degraded", reason: `${unplacedReasons.length}/${desired} replicas unplaced: ${unplacedReasons[0]}` };
  }
  if (ready === desired) return { region, desired, ready, state: "ready", reason: "" };
  const more = waiting.length > MAX_DETAILS ? `, and ${waiting.length - MAX_DETAILS} more` : "";
  return { region, desired, ready, state: "progressing", reason: `${desired - ready}/${desired} replicas not ready: ${waiting.slice(0, MAX_DETAILS).join(", ")}${more}` };
}

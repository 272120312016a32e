import { replicaKey, type Backend, type Deployment, type DeploymentStatus, type RegionStatus, type ReplicaAssignment } from "@enclave/contracts";

import { placementBackendId } from "./placement-backend-id.js";

const MAX_DETAILS = 5;

/** What a pass learnt about one replica beyond its placement: why it has none, or where it is moving. */
export type ReplicaNote = { kind: "unplaced"; reason: string } | { kind: "moving"; text: string };

/**
 * Per deployment and region: how many replicas serve, and in words why not all of them.
 * degraded: some replica has no placement; progressing: all placed, some not ready yet or
 * moving; ready: every desired replica serves and none is moving.
 */
export function deploymentStatus(
  deployments: readonly Deployment[],
  backends: ReadonlyMap<string, Backend>,
  assignments: ReadonlyMap<string, ReplicaAssignment>,
  notes: ReadonlyMap<string, ReplicaNote>,
  generations?: ReadonlyMap<string, number>,
): DeploymentStatus[] {
  return deployments.map((dep) => {
    const generation = generations?.get(dep.name);
    return {
      name: dep.name,
      model: dep.model,
      ...(generation !== undefined ? { generation } : {}),
      regions: Object.keys(dep.replicasPerRegion)
        .sort()
        .map((region) => regionStatus(dep, region, backends, assignments, notes)),
    };
  });
}

function regionStatus(
  dep: Deployment,
  region: string,
  backends: ReadonlyMap<string, Backend>,
  assignments: ReadonlyMap<string, ReplicaAssignment>,
  notes: ReadonlyMap<string, ReplicaNote>,
): RegionStatus {
  const desired = dep.replicasPerRegion[region] ?? 0;
  let ready = 0;
  const unplacedReasons: string[] = [];
  const details: string[] = [];
  for (let replica = 0; replica < desired; replica++) {
    const key = replicaKey({ deployment: dep.name, region, replica });
    const a = assignments.get(key);
    const note = notes.get(key);
    if (a === undefined || a.nodeId === null) {
      unplacedReasons.push(note?.kind === "unplaced" ? note.reason : "not placed yet");
      continue;
    }
    const state = backends.get(placementBackendId({ deployment: dep, region, replica }, a as ReplicaAssignment & { nodeId: string }))?.state;
    if (state === "ready") ready++;
    else details.push(`replica ${replica} on ${a.nodeId}: ${state ?? "start queued"}`);
    if (note?.kind === "moving") details.push(`replica ${replica} ${note.text}`);
  }
  if (unplacedReasons.length > 0) {
    return { region, desired, ready, state: "degraded", reason: `${unplacedReasons.length}/${desired} replicas unplaced: ${unplacedReasons[0]}` };
  }
  if (ready === desired && details.length === 0) return { region, desired, ready, state: "ready", reason: "" };
  const more = details.length > MAX_DETAILS ? `, and ${details.length - MAX_DETAILS} more` : "";
  const head = ready === desired ? `${desired}/${desired} replicas ready, moving` : `${desired - ready}/${desired} replicas not ready`;
  return { region, desired, ready, state: "progressing", reason: `${head}: ${details.slice(0, MAX_DETAILS).join(", ")}${more}` };
}

import { replicaKey, type Deployment } from "@enclave/contracts";

export interface DesiredReplica {
  readonly deployment: Deployment;
  readonly region: string;
  readonly replica: number;
  /** `replicaKey(...)`: deployment/region/ordinal. */
  readonly key: string;
}

const memo = new WeakMap<readonly Deployment[], DesiredReplica[]>();

/**
 * Every replica the deployments ask for, in a stable order: deployments as given, regions sorted,
 * ordinals ascending. The same array gives the same (shared, never to be mutated) list: the
 * deployment store hands out one array per version, so keys are built once per change, not per pass.
 */
export function desiredReplicas(deployments: readonly Deployment[]): readonly DesiredReplica[] {
  let list = memo.get(deployments);
  if (list === undefined) {
    list = build(deployments);
    memo.set(deployments, list);
  }
  return list;
}

function build(deployments: readonly Deployment[]): DesiredReplica[] {
  const out: DesiredReplica[] = [];
  for (const deployment of deployments) {
    for (const region of Object.keys(deployment.replicasPerRegion).sort()) {
      const count = deployment.replicasPerRegion[region] ?? 0;
      for (let replica = 0; replica < count; replica++) {
        out.push({ deployment, region, replica, key: replicaKey({ deployment: deployment.name, region, replica }) });
      }
    }
  }
  return out;
}

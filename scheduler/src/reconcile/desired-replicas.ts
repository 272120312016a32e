import { replicaKey, type Deployment } from "@enclave/contracts";

export interface DesiredReplica {
  readonly deployment: Deployment;
  readonly region: string;
  readonly replica: number;
  /** `replicaKey(...)`: deployment/region/ordinal. */
  readonly key: string;
}

/** Every replica the configuration asks for, in a stable order: deployments as configured, regions sorted, ordinals ascending. */
export function desiredReplicas(deployments: readonly Deployment[]): DesiredReplica[] {
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

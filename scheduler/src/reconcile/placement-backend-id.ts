import { backendId, type Placement } from "@enclave/contracts";

const ids = new WeakMap<Placement, string>();

/**
 * The backend id a placement's engine reports (`node/deployment/region/ordinal/gN`). Stored
 * placements are the same objects from one pass to the next (the store caches them), so the
 * id string is built, and hashed by the maps it keys, once per placement rather than per pass.
 */
export function placementBackendId(replica: { deployment: { name: string }; region: string; replica: number }, p: Placement): string {
  let id = ids.get(p);
  if (id === undefined) {
    id = backendId(p.nodeId, { deployment: replica.deployment.name, region: replica.region, replica: replica.replica, generation: p.generation });
    ids.set(p, id);
  }
  return id;
}

import type { Cordon, NodeReport, NodeSchedulingState, NodeStatus, NodeView, ReplicaAssignment } from "@enclave/contracts";

/** A node's scheduling state: a cordon first (draining while replicas are left on it), then its health. */
export function nodeState(node: NodeReport, cordon: Cordon | null, placedReplicas: number): NodeSchedulingState {
  if (cordon !== null) return placedReplicas > 0 ? "draining" : "cordoned";
  switch (node.health.state) {
    case "failed":
      return "failed";
    case "unknown":
      return "unknown";
    case "degraded":
      return "degraded";
    default:
      return "ready";
  }
}

/**
 * `GET /v1/nodes`: each live node with its state and the replicas on it, by replica key;
 * a replacement still starting there is listed as `key (incoming)`.
 */
export function nodeViews(nodes: readonly NodeStatus[], cordons: ReadonlyMap<string, Cordon>, assignments: ReadonlyMap<string, ReplicaAssignment>): NodeView[] {
  const placed = new Map<string, string[]>();
  const incoming = new Map<string, string[]>();
  const add = (m: Map<string, string[]>, nodeId: string, key: string) => {
    const list = m.get(nodeId);
    if (list === undefined) m.set(nodeId, [key]);
    else list.push(key);
  };
  for (const [key, a] of assignments) {
    if (a.nodeId !== null) add(placed, a.nodeId, key);
    if (a.next) add(incoming, a.next.nodeId, key);
  }
  return nodes.map((n) => {
    const cordon = cordons.get(n.nodeId) ?? null;
    const here = (placed.get(n.nodeId) ?? []).sort();
    return {
      ...n,
      state: nodeState(n, cordon, here.length),
      cordon,
      replicas: [...here, ...(incoming.get(n.nodeId) ?? []).sort().map((k) => `${k} (incoming)`)],
    };
  });
}

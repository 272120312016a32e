/** Every key the scheduler owns in Redis. BullMQ's queues keep their own `bull:` prefix. */
export const keys = {
  /** A node's last report (JSON), expiring with its TTL. */
  node: (id: string) => `enclave:node:${id}`,
  /** Sorted set: node id → time its report expires (ms), so expired ids can be swept without races. */
  nodes: "enclave:nodes",
  /** Hash: replicaKey → ReplicaAssignment (JSON). */
  assignments: "enclave:assignments",
  /** The route table (JSON) and, apart, its version, so a compare-and-set never parses the table. */
  routes: "enclave:routes",
  routesVersion: "enclave:routes:version",
  /** Deployment status (JSON) written by the leader after each pass. */
  deploymentStatus: "enclave:deployment-status",
  /** Which scheduler replica reconciles. */
  leader: "enclave:scheduler:leader",
} as const;

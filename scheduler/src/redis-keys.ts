/** Every key the scheduler owns in Redis. BullMQ's queues keep their own `bull:` prefix. */
export const keys = {
  /** A node's last report (JSON), expiring with its TTL. */
  node: (id: string) => `enclave:node:${id}`,
  /** Sorted set: node id → time its report expires (ms), so expired ids can be swept without races. */
  nodes: "enclave:nodes",
  /** Hash: replicaKey → ReplicaAssignment (JSON). */
  assignments: "enclave:assignments",
  /** Grows with every write to `assignments`, so the leader re-reads them only when they changed. */
  assignmentsVersion: "enclave:assignments:version",
  /** Hash: deployment name → DeploymentRecord (JSON). */
  deployments: "enclave:deployments",
  /** Hash: deployment name → canonical JSON of its spec, so an identical apply changes nothing. */
  deploymentSpecs: "enclave:deployments:spec",
  /** Grows with every deployment change; a change's value is the deployment's new generation. */
  deploymentsVersion: "enclave:deployments:version",
  /** Hash: node id → Cordon (JSON): nodes an operator drained. */
  cordons: "enclave:cordons",
  /** Drain progress (JSON) written by the leader after each pass: node id → { since, remaining }. */
  drainProgress: "enclave:drain-progress",
  /** The route table's version and the digest of its content (each replica builds the table itself from the nodes). */
  routesVersion: "enclave:routes:version",
  routesDigest: "enclave:routes:digest",
  /** Deployment status (JSON) written by the leader after each pass. */
  deploymentStatus: "enclave:deployment-status",
  /** Capacity report (JSON) written by the leader after each pass. */
  capacity: "enclave:capacity",
  /** Which scheduler replica reconciles (`holder:fence`). */
  leader: "enclave:scheduler:leader",
  /** Fencing tokens: grows each time a replica takes the lease. */
  leaderFence: "enclave:scheduler:fence",
} as const;

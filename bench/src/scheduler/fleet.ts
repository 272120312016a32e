import { Deployment as DeploymentSchema, backendId, type Backend, type Deployment, type DeploymentInput, type GpuTelemetry, type NodeReport, type ReplicaAssignment } from "@enclave/contracts";

/** A synthetic fleet for the scheduler benchmark: deterministic (seeded), so runs compare. */

export const REGIONS = [
  { region: "eu-central-1", jurisdiction: "EU" },
  { region: "eu-west-1", jurisdiction: "EU" },
  { region: "us-east-1", jurisdiction: "US" },
  { region: "ca-central-1", jurisdiction: "CA" },
] as const;

/** mulberry32: a tiny seeded PRNG. */
export function rng(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

export function nodeId(i: number): string {
  return `gpu-${REGIONS[i % REGIONS.length]!.region}-${String(Math.floor(i / REGIONS.length)).padStart(4, "0")}`;
}

function gpu(node: string, index: number, usedMiB: number): GpuTelemetry {
  return {
    index,
    uuid: `GPU-${node}-${index}`,
    name: "NVIDIA H100 80GB HBM3",
    memoryTotalMiB: 81559,
    memoryUsedMiB: usedMiB,
    utilizationPct: usedMiB > 0 ? 60 : 0,
    temperatureC: 45,
    powerW: 300,
    powerLimitW: 700,
    eccUncorrectedVolatile: 0,
    health: { state: "healthy", reasons: [] },
  };
}

/** `count` nodes spread evenly over the regions, each with `gpus` idle H100s. */
export function fleetNodes(count: number, gpus: number): NodeReport[] {
  return Array.from({ length: count }, (_, i) => {
    const id = nodeId(i);
    const where = REGIONS[i % REGIONS.length]!;
    return {
      nodeId: id,
      region: where.region,
      jurisdiction: where.jurisdiction,
      time: Date.now(),
      agentVersion: "bench",
      health: { state: "healthy", reasons: [] },
      gpus: Array.from({ length: gpus }, (_, g) => gpu(id, g, 0)),
      backends: [],
    };
  });
}

/**
 * `count` deployments: one or two regions each, one replica per region (some two), mostly
 * 1-GPU models with some 2-, 4- and 8-GPU ones: about two thirds of 8,000 GPUs in use.
 */
export function fleetDeployments(count: number, seed = 42): Deployment[] {
  const r = rng(seed);
  const pick = <T>(xs: readonly T[]): T => xs[Math.floor(r() * xs.length)]!;
  return Array.from({ length: count }, (_, i) => {
    const x = r();
    const gpusPerReplica = x < 0.6 ? 1 : x < 0.85 ? 2 : x < 0.97 ? 4 : 8;
    const first = pick(REGIONS);
    const regions = r() < 0.5 ? [first] : [first, pick(REGIONS.filter((g) => g !== first))];
    const replicasPerRegion = Object.fromEntries(regions.map((g) => [g.region, r() < 0.85 ? 1 : 2]));
    const input: DeploymentInput = {
      name: `model-${String(i).padStart(4, "0")}`,
      model: `org/model-${i}`,
      engine: "vllm",
      gpusPerReplica,
      vramPerGpuMiB: pick([0, 20000, 40000, 70000]),
      replicasPerRegion,
      ...(regions.length === 1 && r() < 0.5 ? { jurisdiction: first.jurisdiction } : {}),
    };
    return DeploymentSchema.parse(input);
  });
}

/** The nodes as their agents would report them once every placed replica serves. */
export function steadyReports(nodes: readonly NodeReport[], assignments: ReadonlyMap<string, ReplicaAssignment>, deployments: readonly Deployment[]): NodeReport[] {
  const byName = new Map(deployments.map((d) => [d.name, d]));
  const backends = new Map<string, Backend[]>();
  const used = new Map<string, Set<string>>();
  for (const [key, a] of assignments) {
    if (a.nodeId === null) continue;
    const [deployment, region, ordinal] = key.split("/") as [string, string, string];
    const dep = byName.get(deployment);
    if (dep === undefined) continue;
    const replica = { deployment, region, replica: Number(ordinal), generation: a.generation };
    const list = backends.get(a.nodeId) ?? [];
    list.push({
      id: backendId(a.nodeId, replica),
      nodeId: a.nodeId,
      engine: dep.engine,
      model: dep.model,
      baseUrl: `http://10.0.${list.length}.1:${8000 + list.length}`,
      state: "ready",
      load: { running: 3, waiting: 0, kvCacheUsage: 0.2 },
      replica,
      gpus: [...a.gpus],
      restarts: 0,
    });
    backends.set(a.nodeId, list);
    const u = used.get(a.nodeId) ?? new Set<string>();
    for (const g of a.gpus) u.add(g);
    used.set(a.nodeId, u);
  }
  return nodes.map((n) => ({
    ...n,
    gpus: n.gpus.map((g) => (used.get(n.nodeId)?.has(g.uuid) ? gpu(n.nodeId, g.index, 72000) : g)),
    backends: backends.get(n.nodeId) ?? [],
  }));
}

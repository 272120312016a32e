import type { EngineSpec } from "../engine-driver.js";
import { containerName, LABEL, specFromLabels } from "./container-spec.js";

/** What the agent knows of one container of its node, from `GET /containers/json?all=1`. */
export interface ContainerSummary {
  id: string;
  /** Without Docker's leading '/'. */
  name: string;
  /** running, exited, created, … */
  state: string;
  labels: Readonly<Record<string, string>>;
}

export interface Orphan {
  id: string;
  name: string;
  reason: string;
}

/**
 * After an agent restart: the running containers of this node whose labels say exactly
 * what they serve, to adopt. Every other container of this node (exited, unreadable
 * labels, a name that does not match) is left to `findOrphans`, as no backend owns it.
 */
export function adoptable(containers: readonly ContainerSummary[], nodeId: string): EngineSpec[] {
  const out: EngineSpec[] = [];
  for (const c of containers) {
    if (c.labels[LABEL.node] !== nodeId || c.state !== "running") continue;
    const parsed = specFromLabels(c.labels);
    if (!parsed.ok || c.name !== containerName(parsed.spec.backendId) || !parsed.spec.backendId.startsWith(`${nodeId}/`)) continue;
    out.push(parsed.spec);
  }
  return out;
}

/**
 * Containers of this node that no backend owns: left behind by a backend that is gone
 * (its deployment deleted, its failed engine replaced) or by a crash mid-start.
 * `busy` names containers being created right now, which no backend lists yet.
 */
export function findOrphans(containers: readonly ContainerSummary[], nodeId: string, owned: ReadonlySet<string>, busy: ReadonlySet<string>): Orphan[] {
  const out: Orphan[] = [];
  for (const c of containers) {
    if (c.labels[LABEL.node] !== nodeId || busy.has(c.name)) continue;
    const backend = c.labels[LABEL.backend];
    if (backend !== undefined && owned.has(backend) && c.name === containerName(backend)) continue;
    out.push({ id: c.id, name: c.name, reason: backend === undefined ? "no backend label" : `no backend ${backend} on this agent` });
  }
  return out;
}

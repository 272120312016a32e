import { EMPTY_ROUTE_TABLE, type Deployment, type NodeReport, type RouteTable } from "@enclave/contracts";
import type { NodeStore } from "../registry/node-store.js";
import { buildRouteContent } from "./build-route-content.js";
import type { RouteStore } from "./route-store.js";
import { newerTable, nextRouteVersion, sameRouteContent } from "./route-version.js";

export interface RoutePublisherDeps {
  nodes: NodeStore;
  store: RouteStore;
  deployments: readonly Deployment[];
  /** Called with each table newer than the last one this process served. */
  onPublish(table: RouteTable): void;
  /** Sees the live nodes each refresh read. */
  onNodes?(nodes: readonly NodeReport[]): void;
  now?: () => number;
}

/**
 * Keeps the route table current: recomputes it from live nodes, bumps the version only when
 * the content changed, stores it, and hands every newer table to `onPublish`. Refreshes run
 * one at a time; calls made during a run share the single run queued after it.
 */
export class RoutePublisher {
  private table: RouteTable = EMPTY_ROUTE_TABLE;
  private chain: Promise<void> = Promise.resolve();
  private queued: Promise<void> | undefined;
  private readonly now: () => number;

  constructor(private readonly deps: RoutePublisherDeps) {
    this.now = deps.now ?? Date.now;
  }

  /** The newest table this process knows; served even while Redis is away (stale, never wider). */
  get current(): RouteTable {
    return this.table;
  }

  refresh(): Promise<void> {
    if (this.queued) return this.queued;
    const run = this.chain
      .catch(() => undefined)
      .then(() => {
        this.queued = undefined;
        return this.runOnce();
      });
    this.queued = run;
    this.chain = run;
    return run;
  }

  private async runOnce(): Promise<void> {
    const now = this.now();
    const live = await this.deps.nodes.live(now);
    this.deps.onNodes?.(live);
    const content = buildRouteContent(live, this.deps.deployments);
    // Another scheduler replica may store a table between our read and write; re-read and retry.
    for (let attempt = 0; attempt < 3; attempt++) {
      const stored = await this.deps.store.get();
      const best = newerTable(this.table, stored);
      let next: RouteTable;
      if (best.version > 0 && sameRouteContent(best, content)) {
        next = best;
        // Redis lost it (or holds an older one): put ours back so the version survives.
        if (stored === null || stored.version < best.version) await this.deps.store.putIfNewer(best);
      } else {
        next = { version: nextRouteVersion(best.version, now), generatedAt: now, ...content };
        if (!(await this.deps.store.putIfNewer(next))) continue;
      }
      if (next.version > this.table.version) {
        this.table = next;
        this.deps.onPublish(next);
      }
      return;
    }
    throw new Error("route table: lost the store race three times in a row");
  }
}

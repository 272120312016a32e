import { EMPTY_ROUTE_TABLE, type Deployment, type NodeStatus, type RouteTable } from "@enclave/contracts";
import type { NodeStore } from "../registry/node-store.js";
import { buildRouteContent, type RouteContent } from "./build-route-content.js";
import type { RouteStore } from "./route-store.js";
import { nextRouteVersion, routeContentDigest, routeContentJson, sameRouteContent } from "./route-version.js";

export interface RoutePublisherDeps {
  nodes: NodeStore;
  store: RouteStore;
  /** Current deployments (for the model list). */
  deployments(): Promise<readonly Deployment[]>;
  /** Nodes whose backends gateways should leave alone (drained). */
  draining(): Promise<ReadonlySet<string>>;
  /** Called with each table newer than the last one this process served. */
  onPublish(table: RouteTable): void;
  /** Sees the live nodes each refresh read. */
  onNodes?(nodes: readonly NodeStatus[]): void;
  /** A refresh asked for by `requestRefresh` that failed. */
  onError?(e: Error): void;
  /**
   * Refreshes asked for by heartbeats start at most this often (default 500 ms, so gateways see
   * a change within a second); 1,000 nodes heartbeating must not mean 500 rebuilds a second.
   */
  minIntervalMs?: number;
  /** A change of engine load alone is published at most this often (backends, states and models at once). */
  loadIntervalMs?: number;
  now?: () => number;
}

/**
 * Keeps the route table current: recomputes it from live nodes, bumps the version only when
 * the content changed, and hands every newer table to `onPublish`. Scheduler replicas share
 * the version and a digest of the content through Redis (never the table itself: each builds
 * it from the same nodes), so versions only grow, across replicas and restarts. Refreshes run
 * one at a time; calls made during a run share the single run queued after it.
 */
export class RoutePublisher {
  private table: RouteTable = EMPTY_ROUTE_TABLE;
  private digest: string | undefined;
  private tableJson: string | undefined;
  private chain: Promise<void> = Promise.resolve();
  private queued: Promise<void> | undefined;
  private lastStart = Number.NEGATIVE_INFINITY;
  private lastPublish = Number.NEGATIVE_INFINITY;
  private timer: NodeJS.Timeout | undefined;
  private timerAt = Number.POSITIVE_INFINITY;
  private closed = false;
  private readonly now: () => number;
  private readonly minIntervalMs: number;
  private readonly loadIntervalMs: number;

  constructor(private readonly deps: RoutePublisherDeps) {
    this.now = deps.now ?? Date.now;
    this.minIntervalMs = deps.minIntervalMs ?? 500;
    this.loadIntervalMs = deps.loadIntervalMs ?? 1000;
  }

  /** The newest table this process knows; served even while Redis is away (stale, never wider). */
  get current(): RouteTable {
    return this.table;
  }

  /** The JSON of `table`: the current one is serialised once, however many gateways fetch it. */
  json(table: RouteTable): string {
    if (table !== this.table) return JSON.stringify(table);
    return (this.tableJson ??= JSON.stringify(table));
  }

  /** Something may have changed: refresh within `minIntervalMs`, one refresh for a burst of requests. */
  requestRefresh(): void {
    this.refreshAt(this.lastStart + this.minIntervalMs);
  }

  refresh(): Promise<void> {
    if (this.queued) return this.queued;
    const run = this.chain
      .catch(() => undefined)
      .then(() => {
        this.queued = undefined;
        this.lastStart = this.now();
        return this.runOnce();
      });
    this.queued = run;
    this.chain = run;
    return run;
  }

  /** Stops timed refreshes and waits for a running one. */
  async close(): Promise<void> {
    this.closed = true;
    clearTimeout(this.timer);
    this.timer = undefined;
    await this.chain.catch(() => undefined);
  }

  /** A refresh at `at` (ms), unless one is already due sooner. */
  private refreshAt(at: number): void {
    if (this.closed || (this.timer !== undefined && this.timerAt <= at)) return;
    clearTimeout(this.timer);
    this.timerAt = at;
    this.timer = setTimeout(() => {
      this.timer = undefined;
      this.timerAt = Number.POSITIVE_INFINITY;
      this.refresh().catch((e: Error) => this.deps.onError?.(e));
    }, Math.max(0, at - this.now()));
  }

  private async runOnce(): Promise<void> {
    const now = this.now();
    const live = await this.deps.nodes.live(now);
    this.deps.onNodes?.(live);
    const [deployments, draining] = await Promise.all([this.deps.deployments(), this.deps.draining()]);
    const content = buildRouteContent(live, deployments, draining);
    const published = this.table.version > 0 ? this.table : undefined;

    if (published !== undefined && sameRouteContent(content, published)) {
      // Unchanged. Redis may have lost the version (or holds an older one): put ours back so it survives.
      const stored = await this.deps.store.get();
      if (stored.version < published.version && this.digest !== undefined) await this.deps.store.putIfNewer({ version: published.version, digest: this.digest });
      return;
    }
    if (published !== undefined && now - this.lastPublish < this.loadIntervalMs && sameRouteContent(content, published, { ignoreLoad: true })) {
      // Only engine load moved: gateways get it at most once a loadInterval, not with every heartbeat.
      this.refreshAt(this.lastPublish + this.loadIntervalMs);
      return;
    }

    const json = routeContentJson(content);
    const digest = routeContentDigest(json);
    // Another scheduler replica may store a version between our read and write; re-read and retry.
    for (let attempt = 0; attempt < 3; attempt++) {
      const stored = await this.deps.store.get();
      if (stored.version > this.table.version && stored.digest === digest) {
        // The same content under a newer version (another replica, or ours before a restart): take its number.
        this.adopt(stored.version, now, content, json, digest);
        return;
      }
      const version = nextRouteVersion(Math.max(this.table.version, stored.version), now);
      if (!(await this.deps.store.putIfNewer({ version, digest }))) continue;
      this.adopt(version, now, content, json, digest);
      return;
    }
    throw new Error("route table: lost the store race three times in a row");
  }

  private adopt(version: number, now: number, content: RouteContent, json: string, digest: string): void {
    this.table = { version, generatedAt: now, models: content.models, entries: content.entries };
    this.digest = digest;
    // The served JSON is the content's, with the stamp in front: one serialisation per version.
    this.tableJson = `{"version":${version},"generatedAt":${now},${json.slice(1)}`;
    this.lastPublish = now;
    this.deps.onPublish(this.table);
  }
}

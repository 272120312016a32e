import { NodeStatus, type NodeReport } from "@enclave/contracts";
import type { Logger } from "@enclave/runtime";
import type { Redis } from "ioredis";
import { keys } from "../redis-keys.js";
import { failOnError } from "../redis-replies.js";
import { safeJson } from "../safe-json.js";

interface Cached {
  status: NodeStatus;
  /** The node's score in `enclave:nodes` when this report was stored: a changed score means a newer report. */
  expiresAt: number;
}

/**
 * The node registry in Redis: a node is live while its last report has not expired. Every
 * scheduler replica keeps the reports it has seen in memory and fetches from Redis only those
 * that changed since (the sorted set's score moves with every heartbeat), so a pass over a
 * thousand nodes reads a few kilobytes rather than megabytes.
 */
export class NodeStore {
  private readonly cache = new Map<string, Cached>();

  constructor(
    private readonly redis: Redis,
    private readonly ttlMs: number,
    private readonly log: Logger,
  ) {}

  async put(report: NodeReport, receivedAt: number): Promise<void> {
    const stored: NodeStatus = { ...report, receivedAt };
    const expiresAt = receivedAt + this.ttlMs;
    await this.redis
      .multi()
      .set(keys.node(report.nodeId), JSON.stringify(stored), "PX", this.ttlMs)
      .zadd(keys.nodes, expiresAt, report.nodeId)
      .exec()
      .then(failOnError);
    const had = this.cache.get(report.nodeId);
    if (had === undefined || had.expiresAt <= expiresAt) this.cache.set(report.nodeId, { status: stored, expiresAt });
  }

  /** Live nodes sorted by id; ids whose report expired are swept on the way. The objects are shared: never mutate them. */
  async live(now = Date.now()): Promise<NodeStatus[]> {
    const [, flat] = await this.redis
      .multi()
      .zremrangebyscore(keys.nodes, "-inf", now)
      .zrangebyscore(keys.nodes, now, "+inf", "WITHSCORES")
      .exec()
      .then(failOnError);
    const scores = new Map<string, number>();
    const list = flat as string[];
    for (let i = 0; i + 1 < list.length; i += 2) scores.set(list[i]!, Number(list[i + 1]));
    for (const id of this.cache.keys()) if (!scores.has(id)) this.cache.delete(id);
    const stale = [...scores].filter(([id, score]) => this.cache.get(id)?.expiresAt !== score).map(([id]) => id);
    if (stale.length > 0) {
      const raw = await this.redis.mget(stale.map(keys.node));
      raw.forEach((text, i) => {
        const id = stale[i]!;
        if (text === null) return this.cache.delete(id);
        const parsed = NodeStatus.safeParse(safeJson(text));
        if (!parsed.success || parsed.data.nodeId !== id) {
          this.cache.delete(id);
          this.log.warn({ node: id }, "ignoring an unreadable stored node report");
          return;
        }
        this.cache.set(id, { status: parsed.data, expiresAt: scores.get(id) ?? 0 });
      });
    }
    const ids = [...scores.keys()].filter((id) => this.cache.has(id)).sort();
    return ids.map((id) => this.cache.get(id)!.status);
  }
}

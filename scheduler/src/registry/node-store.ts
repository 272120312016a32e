import { NodeStatus, type NodeReport } from "@enclave/contracts";
import type { Logger } from "@enclave/runtime";
import type { Redis } from "ioredis";
import { keys } from "../redis-keys.js";
import { failOnError } from "../redis-replies.js";
import { safeJson } from "../safe-json.js";

/** The node registry in Redis: a node is live while its last report has not expired. */
export class NodeStore {
  constructor(
    private readonly redis: Redis,
    private readonly ttlMs: number,
    private readonly log: Logger,
  ) {}

  async put(report: NodeReport, receivedAt: number): Promise<void> {
    const stored: NodeStatus = { ...report, receivedAt };
    await this.redis
      .multi()
      .set(keys.node(report.nodeId), JSON.stringify(stored), "PX", this.ttlMs)
      .zadd(keys.nodes, receivedAt + this.ttlMs, report.nodeId)
      .exec()
      .then(failOnError);
  }

  /** Live nodes sorted by id; ids whose report expired are swept on the way. */
  async live(now = Date.now()): Promise<NodeStatus[]> {
    const [, ids] = await this.redis
      .multi()
      .zremrangebyscore(keys.nodes, "-inf", now)
      .zrangebyscore(keys.nodes, now, "+inf")
      .exec()
      .then(failOnError);
    const idList = (ids as string[]).sort();
    if (idList.length === 0) return [];
    const raw = await this.redis.mget(idList.map(keys.node));
    const nodes: NodeStatus[] = [];
    raw.forEach((text, i) => {
      if (text === null) return;
      const parsed = NodeStatus.safeParse(safeJson(text));
      if (parsed.success) nodes.push(parsed.data);
      else this.log.warn({ node: idList[i] }, "ignoring an unreadable stored node report");
    });
    return nodes;
  }
}

import { Cordon } from "@enclave/contracts";
import type { Logger } from "@enclave/runtime";
import type { Redis } from "ioredis";
import { keys } from "../redis-keys.js";
import { safeJson } from "../safe-json.js";

/** Nodes an operator drained, in Redis (they stay cordoned across restarts until uncordoned). */
export class CordonStore {
  constructor(
    private readonly redis: Redis,
    private readonly log: Logger,
  ) {}

  /** Cordons `nodeId`; a node already cordoned keeps its first cordon. */
  async cordon(nodeId: string, c: Cordon): Promise<{ cordon: Cordon; changed: boolean }> {
    const set = await this.redis.hsetnx(keys.cordons, nodeId, JSON.stringify(c));
    if (set === 1) return { cordon: c, changed: true };
    return { cordon: (await this.get(nodeId)) ?? c, changed: false };
  }

  /** true when it was cordoned. */
  async uncordon(nodeId: string): Promise<boolean> {
    return (await this.redis.hdel(keys.cordons, nodeId)) === 1;
  }

  async get(nodeId: string): Promise<Cordon | null> {
    const text = await this.redis.hget(keys.cordons, nodeId);
    return text === null ? null : this.parse(nodeId, text);
  }

  async all(): Promise<Map<string, Cordon>> {
    const raw = await this.redis.hgetall(keys.cordons);
    const out = new Map<string, Cordon>();
    for (const [id, text] of Object.entries(raw)) {
      const c = this.parse(id, text);
      if (c !== null) out.set(id, c);
    }
    return out;
  }

  private parse(nodeId: string, text: string): Cordon | null {
    const parsed = Cordon.safeParse(safeJson(text));
    if (parsed.success) return parsed.data;
    // An unreadable cordon still cordons: taking the node back into placement is the riskier guess.
    this.log.warn({ node: nodeId }, "unreadable stored cordon; treating the node as cordoned");
    return { since: 0, by: "unknown", reason: "unreadable cordon record" };
  }
}

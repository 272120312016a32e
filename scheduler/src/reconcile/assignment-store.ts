import { ReplicaAssignment } from "@enclave/contracts";
import type { Logger } from "@enclave/runtime";
import type { Redis } from "ioredis";
import { keys } from "../redis-keys.js";
import { failOnError } from "../redis-replies.js";
import { safeJson } from "../safe-json.js";

/** Placements persisted in Redis, so a restarted scheduler does not place everything again. */
export class AssignmentStore {
  constructor(
    private readonly redis: Redis,
    private readonly log: Logger,
  ) {}

  async all(): Promise<Map<string, ReplicaAssignment>> {
    const raw = await this.redis.hgetall(keys.assignments);
    const out = new Map<string, ReplicaAssignment>();
    for (const [key, text] of Object.entries(raw)) {
      const parsed = ReplicaAssignment.safeParse(safeJson(text));
      if (parsed.success) out.set(key, parsed.data);
      else this.log.warn({ replica: key }, "ignoring an unreadable stored assignment");
    }
    return out;
  }

  async apply(changed: ReadonlyMap<string, ReplicaAssignment>, removed: readonly string[]): Promise<void> {
    if (changed.size === 0 && removed.length === 0) return;
    const tx = this.redis.multi();
    if (changed.size > 0) tx.hset(keys.assignments, Object.fromEntries([...changed].map(([k, a]) => [k, JSON.stringify(a)])));
    if (removed.length > 0) tx.hdel(keys.assignments, ...removed);
    failOnError(await tx.exec());
  }
}

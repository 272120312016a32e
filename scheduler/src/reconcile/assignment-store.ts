import { ReplicaAssignment } from "@enclave/contracts";
import type { Logger } from "@enclave/runtime";
import type { Redis } from "ioredis";
import { FENCED } from "../leader-lease.js";
import { keys } from "../redis-keys.js";
import { failOnError } from "../redis-replies.js";
import { safeJson } from "../safe-json.js";

// KEYS: lease, assignments, version. ARGV: lease token, the version the plan was made from
// ('' for none), number of changed pairs, then key/value pairs, then removed keys.
const APPLY = `${FENCED}
if (redis.call('GET', KEYS[3]) or '') ~= ARGV[2] then return redis.error_reply('FENCED assignments changed since they were read') end
local n = tonumber(ARGV[3])
local i = 4
while i < 4 + 2 * n do
  redis.call('HSET', KEYS[2], ARGV[i], ARGV[i + 1])
  i = i + 2
end
while i <= #ARGV do
  redis.call('HDEL', KEYS[2], ARGV[i])
  i = i + 1
end
return redis.call('INCR', KEYS[3])`;

/** Lua's unpack() and Redis's argument handling both have limits; big passes are written in slices. */
const MAX_ARGS_PER_CALL = 4000;

/**
 * Placements persisted in Redis, so a restarted scheduler does not place everything again.
 * Writes are fenced with the leader's lease token: an ex-leader's write fails instead of
 * overwriting its successor's placements. Reads are cached by a version counter.
 */
export class AssignmentStore {
  private cached: { version: string | null; map: Map<string, ReplicaAssignment> } | undefined;

  constructor(
    private readonly redis: Redis,
    private readonly log: Logger,
  ) {}

  /** Every stored assignment; the returned map is this store's cache: never mutate it. */
  async all(): Promise<ReadonlyMap<string, ReplicaAssignment>> {
    return (await this.read()).map;
  }

  /** The assignments and the version they were read at: a plan made from them is written back only if nothing changed since. */
  async read(): Promise<{ version: string | null; map: ReadonlyMap<string, ReplicaAssignment> }> {
    const version = await this.redis.get(keys.assignmentsVersion);
    if (this.cached !== undefined && this.cached.version === version && version !== null) return this.cached;
    const [v, raw] = failOnError(await this.redis.multi().get(keys.assignmentsVersion).hgetall(keys.assignments).exec()) as [string | null, Record<string, string>];
    const map = new Map<string, ReplicaAssignment>();
    for (const [key, text] of Object.entries(raw)) {
      const parsed = ReplicaAssignment.safeParse(safeJson(text));
      if (parsed.success) map.set(key, parsed.data);
      else this.log.warn({ replica: key }, "ignoring an unreadable stored assignment");
    }
    this.cached = { version: v, map };
    return this.cached;
  }

  /**
   * Writes a plan's changes. Throws (message containing FENCED) when `leaseToken` no longer
   * holds the lease, or when the assignments moved past `readVersion` (the version the plan was
   * made from): a write never lands on top of changes the plan did not see.
   */
  async apply(leaseToken: string, readVersion: string | null, changed: ReadonlyMap<string, ReplicaAssignment>, removed: readonly string[]): Promise<void> {
    if (changed.size === 0 && removed.length === 0) return;
    const pairs = [...changed].map(([k, a]) => [k, JSON.stringify(a)] as const);
    let version: string | null = null;
    let calls = 0;
    // Slices keep each call bounded; each is fenced on its own, and a pass is idempotent if one fails midway.
    let p = 0;
    let r = 0;
    while (p < pairs.length || r < removed.length) {
      const take = pairs.slice(p, p + MAX_ARGS_PER_CALL / 2);
      p += take.length;
      const drop = removed.slice(r, r + MAX_ARGS_PER_CALL - 2 * take.length);
      r += drop.length;
      const res: unknown = await this.redis.eval(APPLY, 3, keys.leader, keys.assignments, keys.assignmentsVersion, leaseToken, version ?? readVersion ?? "", String(take.length), ...take.flat(), ...drop);
      version = String(res);
      calls++;
    }
    // Keep the cache in step with what we wrote, unless someone else wrote in between (the version says so).
    const c = this.cached;
    if (c !== undefined && c.version === readVersion && String(Number(c.version ?? 0) + calls) === version) {
      for (const [k, a] of changed) c.map.set(k, a);
      for (const k of removed) c.map.delete(k);
      c.version = version;
    } else {
      this.cached = undefined;
    }
  }

  /** Fails with FENCED unless `leaseToken` holds the lease: checked right before jobs go out. */
  async checkLease(leaseToken: string): Promise<void> {
    await this.redis.eval(`${FENCED} return 1`, 1, keys.leader, leaseToken);
  }
}

import { RouteTable } from "@enclave/contracts";
import type { Redis } from "ioredis";
import { keys } from "../redis-keys.js";
import { safeJson } from "../safe-json.js";

// Writes only a newer version, so concurrent scheduler replicas never move the stored version back.
const STORE_IF_NEWER = `
local v = tonumber(redis.call('GET', KEYS[1]) or '0')
if tonumber(ARGV[1]) > v then
  redis.call('SET', KEYS[1], ARGV[1])
  redis.call('SET', KEYS[2], ARGV[2])
  return 1
end
return 0`;

/** The last published route table in Redis. */
export class RouteStore {
  constructor(private readonly redis: Redis) {}

  /** null when none is stored (first start, or Redis was wiped). */
  async get(): Promise<RouteTable | null> {
    const [version, text] = await this.redis.mget(keys.routesVersion, keys.routes);
    if (version == null || text == null) return null;
    // The version key is what the compare-and-set guards, so it is the one that counts.
    const v = Number(version) || 0;
    const parsed = RouteTable.safeParse(safeJson(text));
    if (!parsed.success) return { version: v, generatedAt: 0, models: [], entries: [] };
    return { ...parsed.data, version: Math.max(v, parsed.data.version) };
  }

  /** false when a newer or equal version is already stored. */
  async putIfNewer(table: RouteTable): Promise<boolean> {
    const r = await this.redis.eval(STORE_IF_NEWER, 2, keys.routesVersion, keys.routes, String(table.version), JSON.stringify(table));
    return r === 1;
  }
}

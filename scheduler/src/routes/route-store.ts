import type { Redis } from "ioredis";
import { keys } from "../redis-keys.js";

// Writes only a newer version, so concurrent scheduler replicas never move the stored version back.
const STORE_IF_NEWER = `
local v = tonumber(redis.call('GET', KEYS[1]) or '0')
if tonumber(ARGV[1]) > v then
  redis.call('SET', KEYS[1], ARGV[1])
  redis.call('SET', KEYS[2], ARGV[2])
  return 1
end
return 0`;

/** What scheduler replicas share about the route table: its version and the digest of its content (not the table: each builds it from the nodes). */
export interface StoredRoutes {
  version: number;
  /** null when only a version is stored (an older scheduler wrote the table, or Redis lost the digest). */
  digest: string | null;
}

export class RouteStore {
  constructor(private readonly redis: Redis) {}

  /** version 0 when none is stored (first start, or Redis was wiped). */
  async get(): Promise<StoredRoutes> {
    const [version, digest] = await this.redis.mget(keys.routesVersion, keys.routesDigest);
    return { version: Number(version ?? 0) || 0, digest: typeof digest === "string" && /^[0-9a-f]{64}$/.test(digest) ? digest : null };
  }

  /** false when a newer or equal version is already stored. */
  async putIfNewer(r: { version: number; digest: string }): Promise<boolean> {
    const res = await this.redis.eval(STORE_IF_NEWER, 2, keys.routesVersion, keys.routesDigest, String(r.version), r.digest);
    return res === 1;
  }
}

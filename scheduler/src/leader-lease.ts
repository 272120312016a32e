import { randomUUID } from "node:crypto";
import type { Redis } from "ioredis";

const RENEW = `if redis.call('GET', KEYS[1]) == ARGV[1] then return redis.call('PEXPIRE', KEYS[1], ARGV[2]) end return 0`;
const RELEASE = `if redis.call('GET', KEYS[1]) == ARGV[1] then return redis.call('DEL', KEYS[1]) end return 0`;
// Taking the lease and drawing the next fencing token happen together, so every holder has its own token.
const ACQUIRE = `
if redis.call('EXISTS', KEYS[1]) == 1 then return false end
local fence = redis.call('INCR', KEYS[2])
local value = ARGV[1] .. ':' .. fence
redis.call('SET', KEYS[1], value, 'PX', ARGV[2])
return value`;

/**
 * One scheduler replica reconciles; the others serve reads. The lease is a Redis key with a
 * TTL, renewed by its holder on every pass; if the holder dies another takes over after `ttlMs`.
 * Its value carries a fencing token that grows with every new holder: the leader's writes
 * check it inside Redis (`FENCED`), so a paused ex-leader cannot overwrite its successor.
 */
export class LeaderLease {
  readonly holder = randomUUID();
  private value: string | undefined;

  constructor(
    private readonly redis: Redis,
    private readonly key: string,
    private readonly fenceKey: string,
    readonly ttlMs: number,
  ) {}

  get isHeld(): boolean {
    return this.value !== undefined;
  }

  /** `holder:fence` while held: what fenced writes compare the lease key with. */
  get token(): string | undefined {
    return this.value;
  }

  /** Renews or takes the lease; true when this replica leads now. */
  async acquire(): Promise<boolean> {
    try {
      if (this.value !== undefined && (await this.redis.eval(RENEW, 1, this.key, this.value, String(this.ttlMs))) === 1) return true;
      const got = await this.redis.eval(ACQUIRE, 2, this.key, this.fenceKey, this.holder, String(this.ttlMs));
      this.value = typeof got === "string" ? got : undefined;
    } catch (e) {
      this.value = undefined;
      throw e;
    }
    return this.value !== undefined;
  }

  async release(): Promise<void> {
    const v = this.value;
    if (v === undefined) return;
    this.value = undefined;
    await this.redis.eval(RELEASE, 1, this.key, v);
  }

  /** Forgets the lease without touching Redis (a fenced write found it taken). */
  lost(): void {
    this.value = undefined;
  }
}

/** Lua prologue for leader-only writes: KEYS[1] is the lease key, ARGV[1] the holder's token. */
export const FENCED = `if redis.call('GET', KEYS[1]) ~= ARGV[1] then return redis.error_reply('FENCED not the leader') end\n`;

export class NotLeaderError extends Error {
  override name = "NotLeaderError";
}

/** Turns Redis's fencing refusal into a typed error. */
export function isFenced(e: unknown): boolean {
  return e instanceof Error && e.message.includes("FENCED");
}

import { randomUUID } from "node:crypto";
import type { Redis } from "ioredis";

const RENEW = `if redis.call('GET', KEYS[1]) == ARGV[1] then return redis.call('PEXPIRE', KEYS[1], ARGV[2]) end return 0`;
const RELEASE = `if redis.call('GET', KEYS[1]) == ARGV[1] then return redis.call('DEL', KEYS[1]) end return 0`;

/**
 * One scheduler replica reconciles; the others serve reads. The lease is a Redis key with a
 * TTL, renewed by its holder on every pass; if the holder dies another takes over after `ttlMs`.
 */
export class LeaderLease {
  readonly holder = randomUUID();
  private held = false;

  constructor(
    private readonly redis: Redis,
    private readonly key: string,
    private readonly ttlMs: number,
  ) {}

  get isHeld(): boolean {
    return this.held;
  }

  /** Renews or takes the lease; true when this replica leads now. */
  async acquire(): Promise<boolean> {
    try {
      if (this.held && (await this.redis.eval(RENEW, 1, this.key, this.holder, String(this.ttlMs))) === 1) return true;
      this.held = (await this.redis.set(this.key, this.holder, "PX", this.ttlMs, "NX")) === "OK";
    } catch (e) {
      this.held = false;
      throw e;
    }
    return this.held;
  }

  async release(): Promise<void> {
    if (!this.held) return;
    this.held = false;
    await this.redis.eval(RELEASE, 1, this.key, this.holder);
  }
}

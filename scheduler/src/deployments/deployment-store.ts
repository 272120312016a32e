import { canonicalJson } from "@enclave/audit";
import { DeploymentRecord, type ApplyResult, type Deployment } from "@enclave/contracts";
import type { Logger } from "@enclave/runtime";
import type { Redis } from "ioredis";
import { keys } from "../redis-keys.js";
import { failOnError } from "../redis-replies.js";
import { safeJson } from "../safe-json.js";

/** More deployments than this are refused: every pass walks all of them. */
export const MAX_DEPLOYMENTS = 10_000;

// KEYS: records, specs, version. ARGV: name, canonical spec, now, JSON-encoded author, only-if-absent, max.
// Compares, bumps the version and writes in one step, so concurrent applies never lose a change.
const APPLY = `
local current = redis.call('HGET', KEYS[2], ARGV[1])
if current == ARGV[2] then return {'unchanged', redis.call('HGET', KEYS[1], ARGV[1])} end
if current and ARGV[5] == '1' then return {'exists', redis.call('HGET', KEYS[1], ARGV[1])} end
if not current and redis.call('HLEN', KEYS[2]) >= tonumber(ARGV[6]) then return {'full', ''} end
local generation = redis.call('INCR', KEYS[3])
local record = '{"spec":' .. ARGV[2] .. ',"generation":' .. generation .. ',"updatedAt":' .. ARGV[3] .. ',"updatedBy":' .. ARGV[4] .. '}'
redis.call('HSET', KEYS[1], ARGV[1], record)
redis.call('HSET', KEYS[2], ARGV[1], ARGV[2])
if current then return {'updated', record} end
return {'created', record}`;

const DELETE = `
if redis.call('HDEL', KEYS[1], ARGV[1]) == 0 then return 0 end
redis.call('HDEL', KEYS[2], ARGV[1])
redis.call('INCR', KEYS[3])
return 1`;

export type ApplyOutcome = ApplyResult | { result: "full"; name: string } | { result: "exists"; name: string; generation: number };

export interface DeploymentSet {
  /** `deploymentsVersion` when read; -1 before the first read. 0: Redis holds no deployment state at all. */
  version: number;
  records: ReadonlyMap<string, DeploymentRecord>;
  /** Specs sorted by name: the order passes and statuses use. */
  specs: readonly Deployment[];
}

/**
 * Desired state in Redis: one record per deployment with a generation that grows with every
 * change (a global counter, so a deleted and re-created deployment never reuses one). Reads are
 * cached by the version counter: a pass costs one GET unless something changed.
 */
export class DeploymentStore {
  private cached: DeploymentSet = { version: -1, records: new Map(), specs: [] };

  constructor(
    private readonly redis: Redis,
    private readonly log: Logger,
  ) {}

  async apply(spec: Deployment, by: string, now: number, opts: { onlyIfAbsent?: boolean } = {}): Promise<ApplyOutcome> {
    const r = (await this.redis.eval(
      APPLY,
      3,
      keys.deployments,
      keys.deploymentSpecs,
      keys.deploymentsVersion,
      spec.name,
      canonicalJson(spec),
      String(now),
      JSON.stringify(by),
      opts.onlyIfAbsent ? "1" : "0",
      String(MAX_DEPLOYMENTS),
    )) as [string, string];
    const [result, text] = r;
    if (result === "full") return { result: "full", name: spec.name };
    const record = DeploymentRecord.parse(safeJson(text));
    if (result === "exists") return { result: "exists", name: spec.name, generation: record.generation };
    return { name: spec.name, generation: record.generation, result: result as ApplyResult["result"] };
  }

  /** true when it existed. */
  async delete(name: string): Promise<boolean> {
    return (await this.redis.eval(DELETE, 3, keys.deployments, keys.deploymentSpecs, keys.deploymentsVersion, name)) === 1;
  }

  async get(name: string): Promise<DeploymentRecord | null> {
    const text = await this.redis.hget(keys.deployments, name);
    if (text === null) return null;
    const parsed = DeploymentRecord.safeParse(safeJson(text));
    return parsed.success ? parsed.data : null;
  }

  /** Every deployment, re-read only when the version moved. */
  async all(): Promise<DeploymentSet> {
    const version = Number((await this.redis.get(keys.deploymentsVersion)) ?? 0);
    if (version === this.cached.version) return this.cached;
    const [v, raw] = failOnError(await this.redis.multi().get(keys.deploymentsVersion).hgetall(keys.deployments).exec()) as [string | null, Record<string, string>];
    const records = new Map<string, DeploymentRecord>();
    for (const name of Object.keys(raw).sort()) {
      const parsed = DeploymentRecord.safeParse(safeJson(raw[name]!));
      if (parsed.success && parsed.data.spec.name === name) records.set(name, parsed.data);
      else this.log.warn({ deployment: name }, "ignoring an unreadable stored deployment");
    }
    this.cached = { version: Number(v ?? 0), records, specs: [...records.values()].map((r) => r.spec) };
    return this.cached;
  }

  /**
   * Writes each config deployment whose name Redis does not hold; the stored one stands otherwise
   * (the API owns deployments once they exist). Returns the names written and those whose stored
   * spec differs from the file.
   */
  async seed(specs: readonly Deployment[], now: number): Promise<{ written: string[]; differing: string[] }> {
    const written: string[] = [];
    const differing: string[] = [];
    for (const spec of specs) {
      const r = await this.apply(spec, "config", now, { onlyIfAbsent: true });
      if (r.result === "created") written.push(spec.name);
      else if (r.result === "exists") differing.push(spec.name);
      else if (r.result === "full") this.log.error({ deployment: spec.name }, `cannot seed a config deployment: ${MAX_DEPLOYMENTS} deployments stored`);
    }
    return { written, differing };
  }
}

import { mkdir, readdir } from "node:fs/promises";
import { join } from "node:path";
import type { AuditCheckpoint, AuditConfig, AuditEvent, AuditRecord, AuditSinkConfig, AuditSpoolConfig } from "@enclave/contracts";
import { readSecret } from "@enclave/runtime/secrets";
import { checkpointSigner, type CheckpointSigner } from "./chain/checkpoint.js";
import { silentLogger, type AuditLogger } from "./logger.js";
import { httpSink } from "./ship/http-sink.js";
import { Shipper, type ShipperStats, type ShippingOptions } from "./ship/shipper.js";
import type { AuditSink } from "./ship/sink.js";
import { syslogSink } from "./ship/syslog-sink.js";
import { SpoolBudget, type Admission } from "./spool/budget.js";
import { lockSpoolDir, type SpoolLock } from "./spool/spool-lock.js";
import { Spool } from "./spool/spool.js";

/** Chain (and directory) names are region ids: they end up in paths. */
const CHAIN_NAME = /^[a-z0-9]+(?:-[a-z0-9]+)*$/;

export interface ChainStats {
  chain: string;
  /** Entries made durable since start (records and checkpoints). */
  appended: number;
  /** Synchronous writes (`written` mode: fdatasyncs) that made them durable: appended / commits is the batch size. */
  commits: number;
  nextSeq: number;
  segments: number;
  bytes: number;
  /** null when the chain has no sink (records stay local). */
  shipping: ShipperStats | null;
}

export interface TrailStats {
  budget: { limitBytes: number; usedBytes: number; pendingBytes: number; reservedBytes: number; exhausted: boolean; refused: number; policy: string };
  chains: ChainStats[];
}

export interface AuditTrailOptions {
  /** Names this process in every record (a gateway replica, a scheduler). */
  emitter: string;
  /** The chain of records without a serving region (denials, operator actions). */
  homeRegion: string;
  spool: AuditSpoolConfig;
  sinks: Record<string, AuditSinkConfig>;
  checkpoint?: { signer: CheckpointSigner; intervalMs: number } | undefined;
  maxRecordBytes: number;
  log?: AuditLogger;
  /** On close, how long shippers may take to deliver what is left (the final checkpoints included). */
  closeDrainMs?: number;
  /** Tests: sinks built from the config otherwise. */
  sinkFactory?: (region: string, cfg: AuditSinkConfig) => AuditSink;
}

interface Chain {
  spool: Spool;
  shipper: Shipper | null;
  checkpointTimer: NodeJS.Timeout | null;
}

/**
 * One emitter's audit trail: a chain per region, each in its own spool directory and
 * shipped to that region's sink, so each sink receives a whole chain it can verify alone
 * and never learns of records that belong elsewhere. Records go to the chain of the region
 * that served the request; those without one (denials) to the home region's.
 */
export class AuditTrail {
  private readonly chains = new Map<string, Promise<Chain>>();
  /** The chains that opened, for stats (which must not wait). */
  private readonly settled = new Map<string, Chain>();
  private closed = false;
  private readonly warnedNoSink = new Set<string>();

  private constructor(
    private readonly o: AuditTrailOptions,
    private readonly budget: SpoolBudget,
    private readonly lock: SpoolLock,
    private readonly log: AuditLogger,
  ) {}

  /** Opens the spool directory (recovering every chain in it) and starts a shipper per chain that has a sink. */
  static async open(o: AuditTrailOptions): Promise<AuditTrail> {
    const log = o.log ?? silentLogger;
    await mkdir(o.spool.dir, { recursive: true, mode: 0o700 });
    const lock = await lockSpoolDir(o.spool.dir);
    const trail = new AuditTrail(o, new SpoolBudget(o.spool.budgetBytes, o.spool.onBudgetExhausted, o.spool.reserveBytesPerRequest), lock, log);
    try {
      const existing = (await readdir(o.spool.dir, { withFileTypes: true })).filter((d) => d.isDirectory() && CHAIN_NAME.test(d.name)).map((d) => d.name);
      for (const chain of new Set([o.homeRegion, ...existing, ...Object.keys(o.sinks)])) await trail.chain(chain);
    } catch (e) {
      await trail.close().catch(() => undefined);
      throw e;
    }
    return trail;
  }

  /**
   * Admits a new request if its record is sure to fit the disk budget (`fail-closed`), or
   * always (`alert-only`). Null: refuse the request. Release the admission once the
   * request's record is written or the request ended.
   */
  admit(): Admission | null {
    if (this.closed) return null;
    return this.budget.admit();
  }

  /** Resolves with the record once it is on disk (group commit). */
  async append(event: AuditEvent, admission?: Admission | null): Promise<AuditRecord> {
    if (this.closed) throw new Error("the audit trail is closed");
    const region = event.region ?? this.o.homeRegion;
    const c = await this.chain(region);
    const record = await c.spool.append(event, admission !== undefined && admission !== null);
    this.scheduleCheckpoint(region, c);
    return record;
  }

  /** Signs every chain with records after its last checkpoint now (also done periodically and on close). */
  async checkpointAll(): Promise<AuditCheckpoint[]> {
    const out: AuditCheckpoint[] = [];
    for (const [region, p] of this.chains) {
      const c = await p;
      const cp = await this.checkpoint(region, c);
      if (cp) out.push(cp);
    }
    return out;
  }

  stats(): TrailStats {
    return {
      budget: {
        limitBytes: this.budget.limit, usedBytes: this.budget.used, pendingBytes: this.budget.pending,
        reservedBytes: this.budget.reserved, exhausted: this.budget.exhausted, refused: this.budget.refused, policy: this.budget.policy,
      },
      chains: [...this.settled.values()].map((c) => {
        const segs = c.spool.segments();
        return {
          chain: c.spool.chain,
          appended: c.spool.appended,
          commits: c.spool.commits,
          nextSeq: c.spool.durableTail.nextSeq,
          segments: segs.length,
          bytes: segs.reduce((n, s) => n + s.size, 0),
          shipping: c.shipper?.stats() ?? null,
        };
      }),
    };
  }

  /**
   * Final checkpoints, a bounded drain (so sinks get the chains' signed ends), then stops
   * the shippers (what is unshipped stays spooled for the next start) and closes every chain.
   */
  async close(): Promise<void> {
    if (this.closed) return;
    this.closed = true;
    const chains = await Promise.allSettled(this.chains.values());
    for (const r of chains) {
      if (r.status !== "fulfilled") continue;
      const c = r.value;
      if (c.checkpointTimer) clearTimeout(c.checkpointTimer);
      if (this.o.checkpoint && c.spool.uncheckpointed) {
        await c.spool.appendCheckpoint(this.o.checkpoint.signer).catch((e: Error) => this.log.error({ chain: c.spool.chain, err: e.message }, "final audit checkpoint failed"));
      }
    }
    // Within the process's 10 s shutdown budget, with room for a loaded machine's TLS handshake.
    const drainMs = this.o.closeDrainMs ?? 6000;
    await Promise.all(chains.map((r) => (r.status === "fulfilled" ? r.value.shipper?.drain(drainMs) : undefined)));
    for (const r of chains) if (r.status === "fulfilled") await r.value.shipper?.stop();
    for (const r of chains) if (r.status === "fulfilled") await r.value.spool.close().catch(() => undefined);
    await this.lock.release();
  }

  private chain(region: string): Promise<Chain> {
    let p = this.chains.get(region);
    if (p === undefined) {
      p = this.openChain(region);
      this.chains.set(region, p);
      // A chain that failed to open is tried again on the next append.
      p.catch(() => this.chains.delete(region));
    }
    return p;
  }

  private async openChain(region: string): Promise<Chain> {
    if (!CHAIN_NAME.test(region)) throw new Error(`audit: '${region.slice(0, 64)}' is not a region id`);
    const spool = await Spool.open({
      dir: join(this.o.spool.dir, region),
      emitter: this.o.emitter,
      chain: region,
      segmentBytes: this.o.spool.segmentBytes,
      groupCommit: this.o.spool.groupCommit,
      acknowledge: this.o.spool.acknowledge,
      maxRecordBytes: this.o.maxRecordBytes,
      budget: this.budget,
      log: this.log,
    });
    const cfg = this.o.sinks[region];
    let shipper: Shipper | null = null;
    if (cfg) {
      try {
        const sink = this.o.sinkFactory ? this.o.sinkFactory(region, cfg) : buildSink(cfg);
        shipper = await Shipper.start(spool, sink, shippingOptions(cfg), this.log);
      } catch (e) {
        await spool.close().catch(() => undefined);
        throw e;
      }
    } else if (!this.warnedNoSink.has(region)) {
      this.warnedNoSink.add(region);
      if (Object.keys(this.o.sinks).length > 0) this.log.warn({ chain: region }, "no audit sink for this region: its records stay in the spool");
    }
    const c: Chain = { spool, shipper, checkpointTimer: null };
    this.settled.set(region, c);
    // Records written before a crash may not be signed yet.
    this.scheduleCheckpoint(region, c);
    return c;
  }

  private scheduleCheckpoint(region: string, c: Chain): void {
    if (!this.o.checkpoint || c.checkpointTimer !== null || this.closed || !c.spool.uncheckpointed) return;
    c.checkpointTimer = setTimeout(() => {
      c.checkpointTimer = null;
      void this.checkpoint(region, c);
    }, this.o.checkpoint.intervalMs);
    c.checkpointTimer.unref();
  }

  private async checkpoint(region: string, c: Chain): Promise<AuditCheckpoint | null> {
    if (!this.o.checkpoint || !c.spool.uncheckpointed || this.closed) return null;
    try {
      return await c.spool.appendCheckpoint(this.o.checkpoint.signer);
    } catch (e) {
      this.log.error({ chain: region, err: (e as Error).message }, "audit checkpoint failed");
      this.scheduleCheckpoint(region, c);
      return null;
    }
  }
}

export function buildSink(cfg: AuditSinkConfig): AuditSink {
  return cfg.type === "syslog" ? syslogSink(cfg) : httpSink(cfg);
}

function shippingOptions(cfg: AuditSinkConfig): ShippingOptions {
  return { batchRecords: cfg.batchRecords, batchBytes: cfg.batchBytes, timeoutMs: cfg.timeoutMs, pollMs: cfg.pollMs, lingerMs: cfg.lingerMs, backoff: cfg.backoff };
}

/** The trail a config describes (`spool` must be set); secrets are read here, so a bad key fails at start. */
export async function openAuditTrail(config: AuditConfig, o: { emitter: string; homeRegion: string; log?: AuditLogger }): Promise<AuditTrail> {
  if (!config.spool) throw new Error("audit.spool is not configured");
  return AuditTrail.open({
    emitter: o.emitter,
    homeRegion: o.homeRegion,
    spool: config.spool,
    sinks: config.sinks,
    checkpoint: config.checkpoint ? { signer: checkpointSigner(readSecret(config.checkpoint.key)), intervalMs: config.checkpoint.intervalMs } : undefined,
    maxRecordBytes: config.maxRecordBytes,
    ...(o.log ? { log: o.log } : {}),
  });
}

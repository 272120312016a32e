import type { GpuTelemetry, HealthThresholds } from "@enclave/contracts";
import { backoffMs, type Logger } from "@enclave/runtime";
import { CountHistory } from "../health/ecc-rate.js";
import { gpuHealth } from "../health/gpu-health.js";
import type { KernelPoll } from "../host/kernel-log.js";
import { describeOutcome, ToolLane, type ToolOutcome } from "../host/run-tool.js";
import { emptyReading, mergeReadings, toTelemetry, type GpuReading } from "./gpu-reading.js";
import type { GpuSource } from "./gpu-source.js";
import { parseDetailXml, type DetailLog } from "./nvidia-smi/detail-xml.js";
import { parseQueryCsv, rejectedField } from "./nvidia-smi/query-csv.js";
import { initialPlan, planFields, rejectField, rowToReading, type FieldPlan } from "./nvidia-smi/query-fields.js";
import { QueryStream } from "./nvidia-smi/query-stream.js";
import { parseXid, XidHistory } from "./xid.js";

export interface NvidiaSmiGpuSourceOptions {
  /** The nvidia-smi binary. */
  path: string;
  /** Per call. */
  timeoutMs: number;
  /** How often the full `-q -x` read joins the fast query. */
  detailIntervalMs: number;
  /**
   * Read the fast query from one long-running `nvidia-smi -lms intervalMs` instead of one
   * call per read (the agent's polling; a one-off read such as `agent probe` has no use for it).
   */
  loop?: { intervalMs: number; /** Test seam: the first wait before a loop that ended is started again. */ retryMinMs?: number };
  thresholds: HealthThresholds;
  /** Where Xid errors come from; undefined: none. */
  kernelLog?: { poll(): KernelPoll };
  log?: Logger;
  now?: () => number;
}

/** A fast query that a driver keeps rejecting fields of is retried this often per read; the rest waits for the next read. */
const MAX_FIELD_RETRIES = 4;
const QUERY_OUTPUT_BYTES = 1024 * 1024;
/** What a NodeReport carries at most. */
const MAX_GPUS = 64;
const DETAIL_OUTPUT_BYTES = 16 * 1024 * 1024;
/** A loop that ended is started again after a backoff from this, doubling, up to the maximum. */
const STREAM_RETRY_MIN_MS = 5_000;
const STREAM_RETRY_MAX_MS = 5 * 60_000;
/** Loops in a row that printed no reading at all before the loop is given up for good (an nvidia-smi that holds back piped output). */
const SILENT_STREAMS_TO_GIVE_UP = 3;

/** The longest one read may take: a new loop's first reading, every query retry and the detail read, each at their deadline. */
export function nvidiaSmiReadBudgetMs(timeoutMs: number): number {
  return (MAX_FIELD_RETRIES + 3) * (timeoutMs + 1000);
}

type QueryResult = { ok: true; readings: GpuReading[]; notes: string[] } | { ok: false; error: string; toolBroken: boolean };

/**
 * GPUs through nvidia-smi: a fast `--query-gpu` CSV read on every call and, every
 * `detailIntervalMs`, the full `-q -x` XML for what the query cannot give. Reads never
 * overlap. A missing, hung or garbage-printing nvidia-smi turns the GPUs it knew into
 * `unknown` with the reason; before it ever answered, `read()` rejects with the reason.
 */
export class NvidiaSmiGpuSource implements GpuSource {
  private plan: FieldPlan = initialPlan();
  private detail: { log: DetailLog; at: number } | undefined;
  private inventory = new Map<string, GpuTelemetry>();
  private readonly ecc = new CountHistory();
  private readonly xids: XidHistory;
  private kernelLogFailed = false;
  private nodeProblems: string[] = [];
  private inFlight: Promise<GpuTelemetry[]> | undefined;
  /** Single calls, one at a time, none while a killed one is stuck. */
  private readonly calls = new ToolLane("nvidia-smi");
  private stream: QueryStream | undefined;
  /** The last loop's process until it has exited: no second loop starts beside a stuck one. */
  private lastStreamExit: Promise<void> | undefined;
  /** Rows the last one-shot query printed; a loop is started only once one has answered. */
  private oneShotRows: number | undefined;
  private streamEnds = 0;
  private silentStreams = 0;
  private streamRetryAt = 0;
  private streamGivenUp = false;
  private closed = false;
  private readonly now: () => number;

  constructor(private readonly o: NvidiaSmiGpuSourceOptions) {
    this.now = o.now ?? Date.now;
    this.xids = new XidHistory(o.thresholds.xidWindowMs);
  }

  read(): Promise<GpuTelemetry[]> {
    this.inFlight ??= this.readOnce().finally(() => (this.inFlight = undefined));
    return this.inFlight;
  }

  /** Stops the nvidia-smi loop, if one runs. */
  close(): void {
    this.closed = true;
    this.stream?.stop();
    this.stream = undefined;
  }

  /** Node-wide findings of the last read: GPUs the driver has attached but did not list, lines about a GPU it could not read. */
  problems(): string[] {
    return [...this.nodeProblems];
  }

  private async readOnce(): Promise<GpuTelemetry[]> {
    const query = await this.runQuery();
    const started = this.now();
    let fresh: DetailLog | undefined;
    const due = !this.detail || started - this.detail.at >= this.o.detailIntervalMs;
    if (due && !(query.ok === false && query.toolBroken)) {
      const d = await this.runDetail();
      if (d.ok) {
        this.detail = { log: d.log, at: started };
        fresh = d.log;
      } else {
        this.o.log?.warn({ err: d.error }, "nvidia-smi -q -x failed; keeping the previous detailed reading");
      }
    }
    const now = this.now();
    this.pollKernelLog();

    let readings: GpuReading[];
    const notes: string[] = [];
    if (query.ok) {
      readings = mergeReadings(query.readings, this.detail?.log.gpus ?? [], fresh !== undefined);
      notes.push(...query.notes);
    } else if (fresh) {
      readings = fresh.gpus;
      notes.push(`nvidia-smi --query-gpu failed: ${query.error}`);
    } else {
      if (this.inventory.size === 0) throw new Error(query.error);
      this.nodeProblems = [];
      return [...this.inventory.values()].map((g) => unknownGpu(g, query.error));
    }

    const detail = this.detail?.log;
    const problems = notes.map((n) => `nvidia-smi: ${n}`);
    if (detail?.attachedGpus != null && detail.attachedGpus > readings.length) {
      problems.push(`the driver has ${detail.attachedGpus} GPUs attached, nvidia-smi reports ${readings.length}`);
    }
    this.nodeProblems = problems;

    const seen = new Set<string>();
    const out: GpuTelemetry[] = [];
    readings.forEach((r, position) => {
      if (seen.has(r.uuid)) return;
      seen.add(r.uuid);
      if (r.eccCorrectedVolatile !== null) this.ecc.add(r.uuid, { time: now, count: r.eccCorrectedVolatile });
      const xids = this.xids.recent(r.pciBusId, now);
      const health = gpuHealth({ reading: r, correctedEccPerHour: this.ecc.rate(r.uuid, now), xids }, this.o.thresholds);
      const index = r.index ?? this.inventory.get(r.uuid)?.index ?? position;
      out.push(toTelemetry(r, index, health, xids));
    });
    // A GPU that was there and is no longer listed is the most suspicious of all.
    const missingWhy = notes[0] ? `not in nvidia-smi's output (${notes[0]})` : "not in nvidia-smi's output any more";
    for (const [uuid, g] of this.inventory) if (!seen.has(uuid)) out.push(this.missingGpu(g, missingWhy, now));
    out.sort((a, b) => a.index - b.index);
    // A report carries at most 64 GPUs; output inventing GPUs must not grow what we remember either.
    if (out.length > MAX_GPUS) {
      const listed = out.filter((g) => seen.has(g.uuid));
      const gone = out.filter((g) => !seen.has(g.uuid));
      out.splice(0, out.length, ...[...listed, ...gone].slice(0, MAX_GPUS).sort((a, b) => a.index - b.index));
    }

    this.inventory = new Map(out.map((g) => [g.uuid, g]));
    this.ecc.retain(new Set(this.inventory.keys()));
    return out;
  }

  private async runQuery(): Promise<QueryResult> {
    return (await this.queryFromStream()) ?? (await this.queryOnce());
  }

  /** The latest reading of the nvidia-smi loop; undefined when there is none to be had (the caller reads once instead). */
  private async queryFromStream(): Promise<QueryResult | undefined> {
    const loop = this.o.loop;
    if (!loop || this.closed || this.streamGivenUp || this.oneShotRows === undefined) return undefined;
    const fields = planFields(this.plan);
    if (this.stream && this.stream.fields.join(",") !== fields.join(",")) {
      this.stream.stop();
      this.stream = undefined;
    }
    if (!this.stream) {
      if (this.now() < this.streamRetryAt || this.lastStreamExit) return undefined;
      const stream = new QueryStream({ path: this.o.path, intervalMs: loop.intervalMs, timeoutMs: this.o.timeoutMs, now: this.now }, fields, this.oneShotRows);
      const exit = stream.exited.then(() => {
        if (this.lastStreamExit === exit) this.lastStreamExit = undefined;
      });
      this.lastStreamExit = exit;
      this.stream = stream;
    }
    const stream = this.stream;
    const r = await stream.latest();
    if (r.ok) {
      this.streamEnds = 0;
      this.silentStreams = 0;
      return this.parsedQuery(r.outcome);
    }
    // It ended: the one-shot call decides this read, and a new loop is tried after a backoff.
    if (this.stream === stream) this.stream = undefined;
    if (this.closed) return undefined;
    this.silentStreams = stream.producedReadings ? 0 : this.silentStreams + 1;
    if (this.silentStreams >= SILENT_STREAMS_TO_GIVE_UP) {
      this.streamGivenUp = true;
      this.o.log?.warn({ err: r.why }, "nvidia-smi's loop mode printed no readings through a pipe; reading with one call each time from now on");
      return undefined;
    }
    this.streamRetryAt = this.now() + backoffMs(this.streamEnds++, loop.retryMinMs ?? STREAM_RETRY_MIN_MS, STREAM_RETRY_MAX_MS);
    this.o.log?.warn({ err: r.why }, "nvidia-smi loop ended; reading with one call each time until it is restarted");
    return undefined;
  }

  private async queryOnce(): Promise<QueryResult> {
    for (let attempt = 0; attempt <= MAX_FIELD_RETRIES; attempt++) {
      const fields = planFields(this.plan);
      const o = await this.run([`--query-gpu=${fields.join(",")}`, "--format=csv"], QUERY_OUTPUT_BYTES);
      if (o.kind !== "exited") return { ok: false, error: this.describe(o), toolBroken: o.kind !== "too-much-output" };
      const rejected = o.code !== 0 ? rejectedField(`${o.stdout}\n${o.stderr}`) : undefined;
      if (rejected !== undefined) {
        const next = rejectField(this.plan, rejected);
        if (!next) return { ok: false, error: `nvidia-smi does not know the field "${rejected}"`, toolBroken: true };
        this.o.log?.info({ field: rejected }, "nvidia-smi does not know this field; querying without it from now on");
        this.plan = next;
        continue;
      }
      const result = this.parsedQuery(o);
      if (result.ok && o.code === 0) this.oneShotRows = result.readings.length;
      return result;
    }
    return { ok: false, error: "nvidia-smi kept rejecting query fields; the next read goes on without them", toolBroken: false };
  }

  /** A finished query's output as readings, or why there are none. */
  private parsedQuery(o: Extract<ToolOutcome, { kind: "exited" }>): QueryResult {
    const parsed = parseQueryCsv(o.stdout);
    if (!parsed.ok) return { ok: false, error: o.code === 0 ? parsed.error : this.describe(o), toolBroken: false };
    const readings = parsed.table.rows.map(rowToReading).filter((r): r is GpuReading => r !== undefined);
    if (readings.length === 0 && o.code !== 0) return { ok: false, error: this.describe(o), toolBroken: false };
    const notes = parsed.table.strayLines.slice(0, 4);
    if (o.code !== 0) notes.push(this.describe(o));
    return { ok: true, readings, notes };
  }

  private async runDetail(): Promise<{ ok: true; log: DetailLog } | { ok: false; error: string }> {
    const o = await this.run(["-q", "-x"], DETAIL_OUTPUT_BYTES);
    if (o.kind !== "exited") return { ok: false, error: this.describe(o) };
    const parsed = parseDetailXml(o.stdout);
    if (!parsed.ok) return { ok: false, error: o.code === 0 ? parsed.error : this.describe(o) };
    return parsed;
  }

  private run(args: string[], maxOutputBytes: number): Promise<ToolOutcome> {
    return this.calls.run(this.o.path, args, { timeoutMs: this.o.timeoutMs, maxOutputBytes });
  }

  private describe(o: ToolOutcome): string {
    return describeOutcome("nvidia-smi", o, this.o.timeoutMs);
  }

  /**
   * A GPU we knew that nvidia-smi no longer lists: unknown, unless an Xid of the window says
   * more (a GPU that fell off the bus, Xid 79, is failed, not just unreadable).
   */
  private missingGpu(g: GpuTelemetry, why: string, now: number): GpuTelemetry {
    const out = unknownGpu(g, why);
    const xids = this.xids.recent(g.pciBusId, now);
    if (xids.length === 0) return out;
    const verdict = gpuHealth({ reading: emptyReading(g.uuid), correctedEccPerHour: null, xids }, this.o.thresholds);
    out.xidErrors = xids.slice(-16);
    if (verdict.state !== "healthy") out.health = { state: verdict.state, reasons: [...verdict.reasons, why].map((r) => r.slice(0, 300)) };
    return out;
  }

  private pollKernelLog(): void {
    if (!this.o.kernelLog || this.kernelLogFailed) return;
    const p = this.o.kernelLog.poll();
    if (!p.ok) {
      // Reported once: a kernel log we may not read stays unreadable.
      this.kernelLogFailed = true;
      this.o.log?.warn({ err: p.error }, "Xid errors will not be seen");
      return;
    }
    const records = p.records.flatMap((r) => parseXid(r.message, r.time) ?? []);
    if (records.length > 0) this.xids.add(records);
  }
}

/** A GPU we knew, now without a reading: identity kept, numbers dropped, state unknown with the reason. */
function unknownGpu(g: GpuTelemetry, reason: string): GpuTelemetry {
  const out: GpuTelemetry = {
    index: g.index,
    uuid: g.uuid,
    name: g.name,
    memoryTotalMiB: g.memoryTotalMiB,
    memoryUsedMiB: g.memoryUsedMiB,
    utilizationPct: null,
    temperatureC: null,
    powerW: null,
    powerLimitW: g.powerLimitW,
    eccUncorrectedVolatile: null,
    health: { state: "unknown", reasons: [reason.slice(0, 300)] },
  };
  if (g.pciBusId !== undefined) out.pciBusId = g.pciBusId;
  return out;
}

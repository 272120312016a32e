import { readFileSync } from "node:fs";
import { NodeReport } from "@enclave/contracts";
import type { Logger } from "@enclave/runtime";
import { errorText, HttpClient } from "../http/http-client.js";

/** ok: the scheduler accepted it; rejected: it answered non-2xx; error: no answer; invalid: the report broke the schema, not sent. */
export type HeartbeatResult = "ok" | "rejected" | "error" | "invalid";

export interface HeartbeatLoopOptions {
  /** `${scheduler.url}/v1/nodes/${nodeId}/heartbeat` */
  url: string;
  token: string;
  intervalMs: number;
  timeoutMs: number;
  /** PEM CA bundle an https scheduler's certificate must chain to (default: the system CAs). */
  caFile?: string | undefined;
  /** Coalesces bursts of state changes into one early heartbeat. */
  debounceMs?: number;
  collect(): Promise<NodeReport>;
  onResult(result: HeartbeatResult): void;
  log: Logger;
}

/** Largest scheduler answer read; the body is only drained, never needed. */
const MAX_ANSWER_BYTES = 64 * 1024;

/**
 * Sends the node report every interval, one at a time, and early (debounced) when
 * `trigger()` says something changed. Failures are logged and counted, never thrown.
 */
export class HeartbeatLoop {
  private timer: NodeJS.Timeout | undefined;
  private dueAt = Number.POSITIVE_INFINITY;
  private inFlight: Promise<void> | undefined;
  private again = false;
  private closed = false;
  private closing: Promise<void> | undefined;
  private readonly client: HttpClient;
  private readonly debounceMs: number;

  constructor(private readonly o: HeartbeatLoopOptions) {
    this.debounceMs = o.debounceMs ?? 50;
    const ca = o.caFile === undefined ? undefined : readCaFile(o.caFile);
    // Below the scheduler's (Fastify's 72 s) keep-alive timeout, so the pooled connection is never reused as it closes.
    this.client = new HttpClient({ timeoutMs: o.timeoutMs, idleMs: 30_000, ...(ca !== undefined ? { ca } : {}) });
  }

  start(): void {
    this.schedule(0);
  }

  /** Something changed: send soon rather than at the next interval. */
  trigger(): void {
    if (this.closed) return;
    if (this.inFlight) this.again = true;
    else this.schedule(this.debounceMs);
  }

  /** Stops the loop after the heartbeat in flight, if any. Idempotent. */
  close(): Promise<void> {
    this.closing ??= (async () => {
      this.closed = true;
      clearTimeout(this.timer);
      await this.inFlight;
      this.client.close();
    })();
    return this.closing;
  }

  /** Sets the next beat `ms` from now unless one is already due sooner. */
  private schedule(ms: number): void {
    if (this.closed) return;
    const at = Date.now() + ms;
    if (this.timer && this.dueAt <= at) return;
    clearTimeout(this.timer);
    this.dueAt = at;
    this.timer = setTimeout(() => {
      this.timer = undefined;
      this.dueAt = Number.POSITIVE_INFINITY;
      this.inFlight = this.beat().finally(() => {
        this.inFlight = undefined;
        const next = this.again ? this.debounceMs : this.o.intervalMs;
        this.again = false;
        this.schedule(next);
      });
    }, ms);
  }

  private async beat(): Promise<void> {
    let result: HeartbeatResult;
    try {
      result = await this.send();
    } catch (e) {
      this.o.log.error({ err: e instanceof Error ? e.message : String(e) }, "heartbeat could not be built");
      result = "error";
    }
    this.o.onResult(result);
  }

  private async send(): Promise<HeartbeatResult> {
    const parsed = NodeReport.safeParse(await this.o.collect());
    if (!parsed.success) {
      const issues = parsed.error.issues.slice(0, 5).map((i) => `${i.path.join(".")}: ${i.message}`);
      this.o.log.error({ issues }, "node report does not match the schema; not sent");
      return "invalid";
    }
    try {
      const res = await this.client.request(this.o.url, {
        method: "POST",
        headers: { authorization: `Bearer ${this.o.token}`, "content-type": "application/json" },
        body: JSON.stringify(parsed.data),
        maxBodyBytes: MAX_ANSWER_BYTES,
      });
      if (res.status >= 200 && res.status < 300) return "ok";
      this.o.log.warn({ status: res.status, answer: res.body.slice(0, 300) }, "scheduler rejected heartbeat");
      return "rejected";
    } catch (e) {
      this.o.log.warn({ err: errorText(e) }, "heartbeat failed");
      return "error";
    }
  }
}

/** Read once at start: a CA file that cannot be read stops the agent with a clear error rather than failing every heartbeat. */
function readCaFile(file: string): Buffer {
  try {
    return readFileSync(file);
  } catch (e) {
    throw new Error(`scheduler.caFile ${file}: cannot read (${(e as NodeJS.ErrnoException).code ?? "error"})`);
  }
}

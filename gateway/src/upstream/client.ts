import { Agent as HttpAgent, request as httpRequest, type ClientRequest, type IncomingHttpHeaders, type IncomingMessage } from "node:http";
import { Agent as HttpsAgent, request as httpsRequest } from "node:https";
import type { Socket } from "node:net";
import type { Cancel } from "./cancel.js";

/**
 * Where a backend is dialled. Built once per route table from the entry's URL (see
 * routing/backends.ts), never from anything a client sent: the request only adds a
 * fixed path per endpoint.
 */
export interface UpstreamTarget {
  https: boolean;
  /** As dialled: a literal address (IPv6 without brackets) or, without an egress policy, a host name. */
  host: string;
  port: number;
  /** The URL's path without a trailing slash, prefixed to the endpoint's path. */
  basePath: string;
  /** scheme://host:port, for logs and tests. */
  origin: string;
}

export interface UpstreamTimeouts {
  connectMs: number;
  /** Until the response headers. */
  headersMs: number;
  /** Idle time between two body chunks. */
  bodyMs: number;
}

export interface UpstreamCall {
  target: UpstreamTarget;
  path: string;
  headers: Record<string, string>;
  body: Buffer | string;
  /** performance.now() by which the whole exchange must be over. */
  deadline: number;
  cancel: Cancel;
}

export interface BodyHandlers {
  data(chunk: Buffer): void;
  end(): void;
  error(e: Error): void;
}

export interface UpstreamResponse {
  statusCode: number;
  headers: IncomingHttpHeaders;
  /** Starts the body flowing into `h` (exactly one of end/error is called last). */
  read(h: BodyHandlers): void;
  pause(): void;
  resume(): void;
  /** Reads and drops the body, so the connection can be reused. */
  discard(): void;
  /** Cuts the exchange (the connection is not reused). */
  destroy(): void;
}

export interface UpstreamClient {
  request(call: UpstreamCall): Promise<UpstreamResponse>;
  close(): void;
}

/** An error of this module: `code` names what timed out or why it stopped. */
export class UpstreamError extends Error {
  constructor(readonly code: "connect_timeout" | "headers_timeout" | "body_timeout" | "total_timeout" | "cancelled", message: string) {
    super(message);
    this.name = "UpstreamError";
  }
}

/**
 * Keep-alive pools to the engines on node:http (its native parser; the same client the
 * bare-proxy baseline uses). Idle connections are closed after `idleMs`, below the
 * engines' own keep-alive timeouts (uvicorn and Node both use 5 s), and a request whose
 * pooled connection turns out to have been closed by the engine (reset before any answer)
 * is sent once more: the engine never read it.
 */
export function createUpstreamClient(t: UpstreamTimeouts, opts: { idleMs?: number } = {}): UpstreamClient {
  const idleMs = opts.idleMs ?? 4000;
  const agentOpts = { keepAlive: true, timeout: idleMs, maxFreeSockets: 1024, scheduling: "lifo" as const };
  const http = new HttpAgent(agentOpts);
  const ticker = new Ticker(Math.max(1, Math.min(TICK_MS, t.connectMs / 4, t.headersMs / 4, t.bodyMs / 4)));
  const https = new HttpsAgent(agentOpts);
  const request = (call: UpstreamCall, retryStale: boolean): Promise<UpstreamResponse> =>
    new Promise((resolve, reject) => {
      const { target } = call;
      const body = call.body;
      const headers: Record<string, string> = { ...call.headers, "content-length": String(typeof body === "string" ? Buffer.byteLength(body) : body.length) };
      const req: ClientRequest = (target.https ? httpsRequest : httpRequest)({
        agent: target.https ? https : http,
        host: target.host,
        port: target.port,
        path: target.basePath + call.path,
        method: "POST",
        headers,
      });
      // Phases: 0 connecting, 1 waiting for headers, 2 reading the body, 3 over.
      let phase = 0;
      let since = performance.now();
      let lastData = since;
      let res: IncomingMessage | null = null;
      let handlers: BodyHandlers | null = null;
      const fail = (e: Error) => {
        if (res) res.destroy(e);
        else req.destroy(e);
      };
      const onCancel = (reason: string) => fail(new UpstreamError("cancelled", reason));
      const exchange: Exchange = {
        check(now) {
          const limit = phase === 0 ? since + t.connectMs : phase === 1 ? since + t.headersMs : lastData + t.bodyMs;
          if (now >= call.deadline) fail(new UpstreamError("total_timeout", "total timeout"));
          else if (now >= limit) {
            const code = phase === 0 ? "connect_timeout" : phase === 1 ? "headers_timeout" : "body_timeout";
            fail(new UpstreamError(code, code.replace("_", " ")));
          }
        },
      };
      const finish = () => {
        phase = 3;
        ticker.remove(exchange);
        call.cancel.clear(onCancel);
      };
      ticker.add(exchange);
      call.cancel.onAbort(onCancel);
      req.once("socket", (s: Socket) => {
        if (!s.connecting) {
          phase = 1;
          since = performance.now();
          return;
        }
        s.once(target.https ? "secureConnect" : "connect", () => {
          if (phase !== 0) return;
          phase = 1;
          since = performance.now();
        });
      });
      req.on("error", (e: Error) => {
        if (res) return; // the response's own error handler reports it
        finish();
        const code = (e as NodeJS.ErrnoException).code;
        if (retryStale && req.reusedSocket && (code === "ECONNRESET" || code === "EPIPE") && !call.cancel.aborted) {
          request(call, false).then(resolve, reject);
          return;
        }
        reject(e);
      });
      req.once("response", (r: IncomingMessage) => {
        res = r;
        phase = 2;
        lastData = performance.now();
        let ended = false;
        r.on("error", (e: Error) => {
          if (ended) return;
          ended = true;
          finish();
          handlers?.error(e);
        });
        r.on("close", () => {
          if (ended) return;
          ended = true;
          finish();
          handlers?.error(Object.assign(new Error("the engine closed the connection mid-answer"), { code: "ECONNRESET" }));
        });
        resolve({
          statusCode: r.statusCode ?? 502,
          headers: r.headers,
          read(h) {
            handlers = h;
            r.on("data", (chunk: Buffer) => {
              lastData = performance.now();
              h.data(chunk);
            });
            r.on("end", () => {
              if (ended) return;
              ended = true;
              finish();
              h.end();
            });
          },
          pause: () => r.pause(),
          resume: () => r.resume(),
          discard() {
            handlers = { data: () => undefined, end: () => undefined, error: () => undefined };
            r.on("end", () => {
              ended = true;
              finish();
            });
            r.resume();
          },
          destroy() {
            ended = true;
            finish();
            r.destroy();
          },
        });
      });
      req.end(body);
    });
  return {
    request: (call) => request(call, true),
    close() {
      ticker.stop();
      http.destroy();
      https.destroy();
    },
  };
}

/** How often open exchanges are checked against their timeouts (finer when a timeout is shorter). */
const TICK_MS = 50;

interface Exchange {
  /** Fails the exchange if one of its deadlines has passed. */
  check(now: number): void;
}

/**
 * One coarse timer for every open exchange, instead of a timer per request: arming and
 * clearing a timer per request costs more than the whole timeout check, and timeouts of
 * seconds need no sub-tick precision. Runs only while exchanges are open.
 */
class Ticker {
  private readonly open = new Set<Exchange>();
  private timer: NodeJS.Timeout | null = null;

  constructor(private readonly everyMs: number) {}

  add(e: Exchange): void {
    this.open.add(e);
    if (this.timer === null) {
      this.timer = setInterval(() => this.tick(), this.everyMs);
      this.timer.unref();
    }
  }

  remove(e: Exchange): void {
    this.open.delete(e);
  }

  stop(): void {
    if (this.timer !== null) clearInterval(this.timer);
    this.timer = null;
  }

  private tick(): void {
    if (this.open.size === 0) return this.stop();
    const now = performance.now();
    for (const e of this.open) e.check(now);
  }
}

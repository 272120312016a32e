import type { IncomingHttpHeaders } from "node:http";
import { connect as netConnect, isIP, type Socket } from "node:net";
import { connect as tlsConnect, TLSSocket } from "node:tls";
import type { Cancel } from "./cancel.js";
import { ResponseFormatError, ResponseParser, TOKEN, type ResponseEvents, type ResponseHead } from "./http1.js";

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
 * Keep-alive connections to the engines, HTTP/1.1 spoken directly on net/tls sockets: a
 * request is one write, a response is read by {@link ResponseParser}, and each connection
 * keeps its listeners for life, so a request costs no ClientRequest, IncomingMessage or
 * listener churn: about half the CPU per request of node:http's client (`npm run bench --
 * --only gateway-client`). Idle connections are closed after `idleMs`, below the engines'
 * own keep-alive timeouts (uvicorn and Node both use 5 s), and a request whose pooled
 * connection turns out to have been closed by the engine (closed before any answer) is sent
 * once more: the engine never answered it.
 */
export function createUpstreamClient(t: UpstreamTimeouts, opts: { idleMs?: number } = {}): UpstreamClient {
  const pool = new Pool(opts.idleMs ?? 4000);
  const ticker = new Ticker(Math.max(1, Math.min(TICK_MS, t.connectMs / 4, t.headersMs / 4, t.bodyMs / 4)));
  const request = (call: UpstreamCall, retryStale: boolean): Promise<UpstreamResponse> =>
    new Promise((resolve, reject) => {
      if (call.cancel.aborted) return reject(new UpstreamError("cancelled", call.cancel.reason));
      const body = call.body;
      const bodyBytes = typeof body === "string" ? Buffer.byteLength(body) : body.length;
      const head = requestHead(call, bodyBytes);
      if (typeof head !== "string") return reject(head);
      if (pool.closed) return reject(new Error("the engine client is closed"));
      const conn = pool.take(call.target);
      new Exchange(call, t, conn, ticker, resolve, reject, conn.requests > 0 && retryStale ? () => request(call, false).then(resolve, reject) : null);
      const msg = Buffer.allocUnsafe(head.length + bodyBytes);
      msg.write(head, 0, "latin1");
      if (typeof body === "string") msg.write(body, head.length, "utf8");
      else body.copy(msg, head.length);
      conn.socket.write(msg);
    });
  return {
    request: (call) => request(call, true),
    close() {
      ticker.stop();
      pool.close();
    },
  };
}

const HEADER_VALUE = /^[\t\x20-\x7e]*$/;

/** The request line and headers (Content-Length from the body), or an error for a header that could split the request. */
function requestHead(call: UpstreamCall, bodyBytes: number): string | Error {
  const { target } = call;
  let head = `POST ${target.basePath}${call.path} HTTP/1.1\r\nhost: ${target.origin.slice(target.origin.indexOf("//") + 2)}\r\n`;
  for (const k in call.headers) {
    const v = call.headers[k]!;
    if (!TOKEN.test(k) || !HEADER_VALUE.test(v)) return new Error(`refusing to send header ${JSON.stringify(k)}: not a plain header`);
    const lower = k.toLowerCase();
    if (lower === "host" || lower === "content-length" || lower === "transfer-encoding" || lower === "connection") continue;
    head += `${k}: ${v}\r\n`;
  }
  return `${head}content-length: ${bodyBytes}\r\n\r\n`;
}

const NO_HANDLERS: BodyHandlers = { data: () => undefined, end: () => undefined, error: () => undefined };
/** Body bytes kept for a response nobody reads yet, before its connection is paused. */
const MAX_UNREAD_BYTES = 1 << 20;

/** One request on one connection: its timeouts, its response head and body, its end. */
class Exchange implements ResponseEvents {
  // Phases: 0 connecting, 1 waiting for headers, 2 reading the body, 3 over.
  private phase = 0;
  private since = performance.now();
  private lastData = this.since;
  private readonly parser = new ResponseParser(this);
  private gotBytes = false;
  private responded = false;
  /** The answer's head allows another request on the connection. */
  private keepAlive = false;
  private handlers: BodyHandlers | null = null;
  private unread: Buffer[] = [];
  private unreadBytes = 0;
  /** How the body ended before anyone read it: null (not yet), or the end or error to deliver. */
  private outcome: { error: Error | null } | null = null;
  private readonly onCancel = (reason: string) => this.fail(new UpstreamError("cancelled", reason));

  constructor(
    private readonly call: UpstreamCall,
    private readonly t: UpstreamTimeouts,
    private readonly conn: Conn,
    private readonly ticker: Ticker,
    private readonly resolve: (r: UpstreamResponse) => void,
    private readonly reject: (e: Error) => void,
    /** Sends the request again on a fresh connection (a pooled one closed under it), or null. */
    private readonly resend: (() => void) | null,
  ) {
    conn.start(this);
    if (!conn.socket.connecting) this.phase = 1;
    ticker.add(this);
    call.cancel.onAbort(this.onCancel);
  }

  connected(): void {
    if (this.phase !== 0) return;
    this.phase = 1;
    this.since = performance.now();
  }

  check(now: number): void {
    const t = this.t;
    const limit = this.phase === 0 ? this.since + t.connectMs : this.phase === 1 ? this.since + t.headersMs : this.lastData + t.bodyMs;
    if (now >= this.call.deadline) this.fail(new UpstreamError("total_timeout", "total timeout"));
    else if (now >= limit) {
      const code = this.phase === 0 ? "connect_timeout" : this.phase === 1 ? "headers_timeout" : "body_timeout";
      this.fail(new UpstreamError(code, code.replace("_", " ")));
    }
  }

  /** Bytes from the connection. */
  data(d: Buffer): void {
    if (this.phase === 3) return;
    this.gotBytes = true;
    this.lastData = performance.now();
    try {
      this.parser.push(d);
    } catch (e) {
      // Before the end: a malformed answer (or a reader's data handler failed). After it: the reader's end handler.
      if (this.phase !== 3) this.fail(e as Error);
      else this.readerFailed(e as Error);
    }
  }

  /** The connection closed (or failed) while this exchange had it. */
  closed(error: Error | null): void {
    if (this.phase === 3) return;
    if (!this.responded) {
      if (this.resend !== null && !this.gotBytes && !this.call.cancel.aborted) {
        this.over(false);
        this.resend();
        return;
      }
      this.over(false);
      this.reject(error ?? Object.assign(new Error("the engine closed the connection before answering"), { code: "ECONNRESET" }));
      return;
    }
    let cut = error;
    if (cut === null) {
      try {
        this.parser.close(); // a body delimited by the close ends here
      } catch (e) {
        if (!(e instanceof ResponseFormatError)) return this.readerFailed(e as Error);
        cut = Object.assign(new Error("the engine closed the connection mid-answer"), { code: "ECONNRESET" });
      }
    }
    if (cut !== null && this.phase !== 3) {
      this.over(false);
      this.deliver(cut);
    }
  }

  /** A reader's handler threw after the end: its error handler hears of it, once, instead of the exception escaping into a socket event. */
  private readerFailed(e: Error): void {
    const h = this.handlers;
    this.handlers = NO_HANDLERS;
    if (h === null || h === NO_HANDLERS) return;
    try {
      h.error(e);
    } catch {
      // A reader whose error handler throws too has nothing left to be told.
    }
  }

  // ResponseEvents (from the parser)
  head(h: ResponseHead): void {
    this.phase = 2;
    this.responded = true;
    this.keepAlive = h.keepAlive;
    this.resolve(this.response(h));
  }

  body(chunk: Buffer): void {
    if (this.phase === 3) return; // failed or cut while this packet was being parsed
    if (this.handlers !== null) return this.handlers.data(chunk);
    this.unread.push(chunk);
    this.unreadBytes += chunk.length;
    if (this.unreadBytes > MAX_UNREAD_BYTES) this.conn.socket.pause();
  }

  end(extra: boolean): void {
    if (this.phase === 3) return;
    this.over(this.keepAlive && !extra);
    this.deliver(null);
  }

  /** Fails the exchange (a timeout, a cancel, a bad answer, the client closing): the connection is not reused. */
  fail(e: Error): void {
    if (this.phase === 3) return;
    const responded = this.responded;
    this.over(false);
    if (responded) this.deliver(e);
    else this.reject(e);
  }

  /** Ends the exchange once: the connection goes back to the pool when `reuse`, else is closed. */
  private over(reuse: boolean): void {
    if (this.phase === 3) return;
    this.phase = 3;
    this.ticker.remove(this);
    this.call.cancel.clear(this.onCancel);
    this.conn.finish(reuse);
  }

  /** The body's end (error null) or failure, to the reader now or when it starts reading. */
  private deliver(error: Error | null): void {
    const h = this.handlers;
    if (h === null) {
      this.outcome = { error };
      return;
    }
    if (error === null) h.end();
    else h.error(error);
  }

  private response(h: ResponseHead): UpstreamResponse {
    return {
      statusCode: h.status,
      headers: h.headers,
      read: (handlers) => {
        this.handlers = handlers;
        const unread = this.unread;
        this.unread = [];
        if (this.unreadBytes > MAX_UNREAD_BYTES && this.phase !== 3) this.conn.socket.resume();
        this.unreadBytes = 0;
        for (const c of unread) {
          if (this.handlers !== handlers) return; // destroyed or discarded from a data handler
          handlers.data(c);
        }
        const o = this.outcome;
        if (o !== null && this.handlers === handlers) {
          if (o.error === null) handlers.end();
          else handlers.error(o.error);
        }
      },
      pause: () => {
        if (this.phase !== 3) this.conn.socket.pause();
      },
      resume: () => {
        if (this.phase !== 3) this.conn.socket.resume();
      },
      discard: () => {
        this.unread = [];
        this.handlers = NO_HANDLERS;
        if (this.unreadBytes > MAX_UNREAD_BYTES && this.phase !== 3) this.conn.socket.resume();
        this.unreadBytes = 0;
      },
      destroy: () => {
        this.handlers = NO_HANDLERS;
        if (this.phase !== 3) this.over(false);
      },
    };
  }
}

/** A connection to one engine: its listeners are set once; the exchange in progress gets what they hear. */
class Conn {
  exchange: Exchange | null = null;
  /** Requests started on it (a reused connection may have been closed by the engine meanwhile). */
  requests = 0;
  idleSince = 0;
  dead = false;

  constructor(
    readonly socket: Socket,
    readonly key: string,
    private readonly pool: Pool,
  ) {
    socket.on("data", (d: Buffer) => {
      if (this.exchange !== null) this.exchange.data(d);
      else this.kill(); // an engine has nothing to say between requests
    });
    socket.on("end", () => this.lost(null));
    socket.on("error", (e: Error) => this.lost(e));
    socket.on("close", () => this.lost(null));
  }

  start(ex: Exchange): void {
    this.exchange = ex;
    this.requests++;
    if (this.socket.connecting) this.socket.once(this.socket instanceof TLSSocket ? "secureConnect" : "connect", () => this.exchange?.connected());
  }

  /** The exchange is over: keep the connection for the next request, or close it. */
  finish(reuse: boolean): void {
    this.exchange = null;
    // Reused only once the request is all written (an engine may answer before reading all of it).
    if (reuse && !this.dead && this.socket.writableLength === 0) {
      // Paused for a slow client when its answer's last bytes came in: the next request needs it flowing.
      if (this.socket.isPaused()) this.socket.resume();
      this.pool.put(this);
    } else this.kill();
  }

  kill(): void {
    this.dead = true;
    this.exchange = null;
    this.pool.forget(this);
    this.socket.destroy();
  }

  private lost(e: Error | null): void {
    const ex = this.exchange;
    this.dead = true;
    if (ex === null) {
      this.pool.forget(this);
      this.socket.destroy();
      return;
    }
    ex.closed(e);
  }
}

/** Idle connections by engine (last in, first out: the warmest first), closed after `idleMs` idle. */
class Pool {
  private readonly idle = new Map<string, Conn[]>();
  private readonly all = new Set<Conn>();
  private sweeper: NodeJS.Timeout | null = null;
  closed = false;

  constructor(private readonly idleMs: number) {}

  take(target: UpstreamTarget): Conn {
    const key = `${target.https ? "https" : "http"} ${target.host} ${target.port}`;
    const list = this.idle.get(key);
    const fresh = performance.now() - this.idleMs;
    while (list !== undefined && list.length > 0) {
      const c = list.pop()!;
      if (c.dead) continue;
      // The sweep runs every idleMs / 4: a connection idle longer is not trusted to the engine's keep-alive.
      if (c.idleSince > fresh) return c;
      c.kill();
    }
    const socket = target.https
      ? tlsConnect({ host: target.host, port: target.port, ...(isIP(target.host) === 0 ? { servername: target.host } : {}), ALPNProtocols: ["http/1.1"] })
      : netConnect({ host: target.host, port: target.port, noDelay: true, keepAlive: true, keepAliveInitialDelay: 1000 });
    if (target.https) socket.setNoDelay(true).setKeepAlive(true, 1000);
    const c = new Conn(socket, key, this);
    this.all.add(c);
    return c;
  }

  put(c: Conn): void {
    let list = this.idle.get(c.key);
    if (list === undefined) this.idle.set(c.key, (list = []));
    if (list.length >= MAX_IDLE_PER_ENGINE) return c.kill();
    c.idleSince = performance.now();
    list.push(c);
    if (this.sweeper === null) {
      this.sweeper = setInterval(() => this.sweep(), Math.max(10, this.idleMs / 4));
      this.sweeper.unref();
    }
  }

  forget(c: Conn): void {
    this.all.delete(c);
    const list = this.idle.get(c.key);
    const i = list?.indexOf(c) ?? -1;
    if (i >= 0) list!.splice(i, 1);
  }

  close(): void {
    this.closed = true;
    if (this.sweeper !== null) clearInterval(this.sweeper);
    this.sweeper = null;
    for (const c of [...this.all]) {
      c.exchange?.fail(new UpstreamError("cancelled", "the engine client is closing"));
      c.kill();
    }
    this.idle.clear();
  }

  private sweep(): void {
    const old = performance.now() - this.idleMs;
    let left = 0;
    for (const list of this.idle.values()) {
      // Oldest first: the list is in the order connections were put back.
      while (list.length > 0 && list[0]!.idleSince <= old) list.shift()!.kill();
      left += list.length;
    }
    if (left === 0 && this.sweeper !== null) {
      clearInterval(this.sweeper);
      this.sweeper = null;
    }
  }
}

const MAX_IDLE_PER_ENGINE = 1024;

/** How often open exchanges are checked against their timeouts (finer when a timeout is shorter). */
const TICK_MS = 50;

interface Deadlines {
  /** Fails the exchange if one of its deadlines has passed. */
  check(now: number): void;
}

/**
 * One coarse timer for every open exchange, instead of a timer per request: arming and
 * clearing a timer per request costs more than the whole timeout check, and timeouts of
 * seconds need no sub-tick precision. Runs only while exchanges are open.
 */
class Ticker {
  private readonly open = new Set<Deadlines>();
  private timer: NodeJS.Timeout | null = null;

  constructor(private readonly everyMs: number) {}

  add(e: Deadlines): void {
    this.open.add(e);
    if (this.timer === null) {
      this.timer = setInterval(() => this.tick(), this.everyMs);
      this.timer.unref();
    }
  }

  remove(e: Deadlines): void {
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

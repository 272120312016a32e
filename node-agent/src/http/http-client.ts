import { Agent as HttpAgent, request as httpRequest, type IncomingMessage } from "node:http";
import { Agent as HttpsAgent, request as httpsRequest } from "node:https";

export interface HttpClientOptions {
  /** Bound on a whole call: connecting, the answer's head and its body. */
  timeoutMs: number;
  /** An idle kept-alive connection is closed after this long; keep it below the server's own keep-alive timeout. */
  idleMs: number;
  /** PEM CA bundle an https server's certificate must chain to (default: the system CAs). */
  ca?: Buffer;
}

export interface HttpCall {
  method: "GET" | "POST";
  headers?: Record<string, string>;
  body?: string;
  /** Answer bytes read at most; a longer answer ends the call with `truncated`. */
  maxBodyBytes: number;
  /** Ends the call early (on top of the timeout). */
  signal?: AbortSignal;
}

export interface HttpAnswer {
  status: number;
  body: string;
  /** The answer was longer than `maxBodyBytes`; `body` is its first part. */
  truncated: boolean;
}

/**
 * The agent's HTTP client (heartbeats, engine probes) on node:http, with keep-alive pools
 * per protocol and one deadline per call. undici would cost the agent ~8 MB of resident
 * memory for what these two GET/POST callers need.
 */
export class HttpClient {
  private readonly http: HttpAgent;
  private https: HttpsAgent | undefined;

  constructor(private readonly o: HttpClientOptions) {
    this.http = new HttpAgent({ keepAlive: true, maxSockets: 16, maxFreeSockets: 4, timeout: o.idleMs });
  }

  /** Rejects with a clear error on a refused connection, a timeout, an abort or a reset. */
  async request(url: string, call: HttpCall): Promise<HttpAnswer> {
    try {
      return await this.once(url, call);
    } catch (e) {
      // A kept-alive connection the server closed just as it was reused: the request never
      // reached it, so one retry on a fresh connection is safe (Node's documented pattern).
      if ((e as { reusedSocket?: boolean }).reusedSocket && (e as NodeJS.ErrnoException).code === "ECONNRESET" && !call.signal?.aborted) return this.once(url, call);
      throw e;
    }
  }

  close(): void {
    this.http.destroy();
    this.https?.destroy();
  }

  private once(url: string, call: HttpCall): Promise<HttpAnswer> {
    const u = new URL(url);
    const tls = u.protocol === "https:";
    if (!tls && u.protocol !== "http:") return Promise.reject(new Error(`${u.protocol} is not http or https`));
    const agent = tls ? (this.https ??= new HttpsAgent({ keepAlive: true, maxSockets: 16, maxFreeSockets: 4, timeout: this.o.idleMs, ...(this.o.ca ? { ca: this.o.ca } : {}) })) : this.http;
    const headers: Record<string, string | number> = { ...call.headers };
    if (call.body !== undefined) headers["content-length"] = Buffer.byteLength(call.body);

    return new Promise<HttpAnswer>((resolve, reject) => {
      let settled = false;
      const finish = (err: Error | undefined, answer?: HttpAnswer) => {
        if (settled) return;
        settled = true;
        clearTimeout(timer);
        call.signal?.removeEventListener("abort", onAbort);
        if (err) {
          (err as { reusedSocket?: boolean }).reusedSocket = req.reusedSocket;
          req.destroy();
          reject(err);
        } else if (answer) resolve(answer);
      };
      const onAbort = () => finish(new Error("aborted"));
      const timer = setTimeout(() => finish(new Error(`no answer within ${this.o.timeoutMs} ms`)), this.o.timeoutMs);
      const req = (tls ? httpsRequest : httpRequest)(u, { method: call.method, agent, headers }, (res: IncomingMessage) => {
        const chunks: Buffer[] = [];
        let size = 0;
        res.on("data", (b: Buffer) => {
          if (settled) return;
          size += b.length;
          if (size > call.maxBodyBytes) {
            chunks.push(b.subarray(0, Math.max(0, call.maxBodyBytes - (size - b.length))));
            finish(undefined, { status: res.statusCode ?? 0, body: Buffer.concat(chunks).toString("utf8"), truncated: true });
            // A half-read answer leaves the connection unusable: it goes, not back to the pool.
            res.destroy();
            return;
          }
          chunks.push(b);
        });
        res.on("end", () => finish(undefined, { status: res.statusCode ?? 0, body: Buffer.concat(chunks).toString("utf8"), truncated: false }));
        res.on("error", (e) => finish(e));
        res.on("aborted", () => finish(new Error("the answer was cut off")));
      });
      req.on("error", (e) => finish(e));
      if (call.signal?.aborted) return onAbort();
      call.signal?.addEventListener("abort", onAbort, { once: true });
      req.end(call.body);
    });
  }
}

/** A network error as one line: `ECONNREFUSED connect ECONNREFUSED 127.0.0.1:1`. */
export function errorText(e: unknown): string {
  if (e instanceof Error) {
    const code = (e as NodeJS.ErrnoException).code;
    return code && !e.message.includes(code) ? `${code} ${e.message}` : e.message;
  }
  return String(e);
}

import { readFileSync } from "node:fs";
import { createServer, type IncomingMessage, type ServerResponse } from "node:http";
import { createServer as createHttpsServer } from "node:https";
import type { AddressInfo } from "node:net";
import type { RouteTable } from "@enclave/contracts";

/** `/v1/routes` as the scheduler serves it: bearer-checked, long-polling on `after`. */
export interface FakeScheduler {
  readonly url: string;
  readonly port: number;
  /** Requests seen, and how many carried a wrong or missing token. */
  readonly stats: { requests: number; unauthorized: number };
  /** null: answer 503 (no table yet). */
  setTable(table: RouteTable | null): void;
  /** Send this raw body next instead of the table (once). */
  sendRawOnce(body: string): void;
  close(): Promise<void>;
}

/** `tls`: serve HTTPS with these PEM files (as the scheduler does with TLS on). */
export async function startFakeScheduler(opts: { token: string; table: RouteTable | null; port?: number; tls?: { cert: string; key: string } }): Promise<FakeScheduler> {
  let table = opts.table;
  let raw: string | null = null;
  const waiters = new Set<() => void>();
  const stats = { requests: 0, unauthorized: 0 };
  const send = (res: ServerResponse) => {
    if (raw !== null) {
      res.writeHead(200, { "content-type": "application/json" }).end(raw);
      raw = null;
    } else if (table === null) {
      res.writeHead(503, { "content-type": "application/json" }).end('{"error":"no table"}');
    } else {
      res.writeHead(200, { "content-type": "application/json" }).end(JSON.stringify(table));
    }
  };
  const handler = (req: IncomingMessage, res: ServerResponse) => {
    stats.requests++;
    const u = new URL(req.url ?? "/", "http://x");
    if (req.method !== "GET" || u.pathname !== "/v1/routes") return void res.writeHead(404).end();
    if (req.headers.authorization !== `Bearer ${opts.token}`) {
      stats.unauthorized++;
      return void res.writeHead(401).end();
    }
    const after = u.searchParams.get("after");
    if (raw !== null || after === null || (table !== null && table.version > Number(after))) return send(res);
    const waitMs = Math.min(25000, Number(u.searchParams.get("waitMs") ?? 25000));
    const wake = () => {
      clearTimeout(timer);
      waiters.delete(wake);
      if (!res.destroyed) send(res);
    };
    const timer = setTimeout(wake, waitMs);
    waiters.add(wake);
    res.on("close", () => {
      clearTimeout(timer);
      waiters.delete(wake);
    });
  };
  const server = opts.tls ? createHttpsServer({ cert: readFileSync(opts.tls.cert), key: readFileSync(opts.tls.key) }, handler) : createServer(handler);
  await new Promise<void>((resolve, reject) => {
    server.once("error", reject);
    server.listen(opts.port ?? 0, "127.0.0.1", resolve);
  });
  const { port } = server.address() as AddressInfo;
  return {
    url: `${opts.tls ? "https" : "http"}://127.0.0.1:${port}`,
    port,
    stats,
    setTable(t) {
      table = t;
      for (const w of [...waiters]) w();
    },
    sendRawOnce(body) {
      raw = body;
      for (const w of [...waiters]) w();
    },
    close() {
      server.closeAllConnections();
      return new Promise((resolve) => server.close(() => resolve()));
    },
  };
}

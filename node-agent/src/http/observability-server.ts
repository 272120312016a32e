import { createServer, type IncomingMessage, type Server, type ServerResponse } from "node:http";
import type { AddressInfo } from "node:net";
import type { Readiness } from "@enclave/runtime";
import type { Registry } from "prom-client";

export interface ObservabilityServer {
  readonly server: Server;
  readonly port: number;
  /** Stops listening and ends idle keep-alive connections; a scrape in flight finishes first. */
  close(): Promise<void>;
}

/** Bounds for a listener that only Prometheus and health checks talk to. */
const HEADERS_TIMEOUT_MS = 10_000;
/** close() then ends connections still busy after this long (a client that never reads its scrape). */
const CLOSE_GRACE_MS = 2_000;
const REQUEST_TIMEOUT_MS = 30_000;
const KEEP_ALIVE_TIMEOUT_MS = 5_000;
const MAX_HEADER_BYTES = 8 * 1024;

/**
 * `/healthz`, `/readyz` and `/metrics` on plain node:http, answering what runtime's Fastify
 * plugin answers (same paths, bodies and status codes). The agent has no other routes, and
 * Fastify with its schema compiler costs it ~10 MB of its 80 MB budget.
 */
export async function startObservabilityServer(opts: { host: string; port: number; registry: Registry; notReadyBecause: Readiness }): Promise<ObservabilityServer> {
  const { registry, notReadyBecause } = opts;
  const server = createServer(
    { headersTimeout: HEADERS_TIMEOUT_MS, requestTimeout: REQUEST_TIMEOUT_MS, keepAliveTimeout: KEEP_ALIVE_TIMEOUT_MS, maxHeaderSize: MAX_HEADER_BYTES },
    (req, res) => {
      // A body nobody reads must not stall the connection.
      req.resume();
      handle(req, res).catch((e: unknown) => {
        if (!res.headersSent) json(res, 500, { status: "error", reason: e instanceof Error ? e.message.slice(0, 200) : "error" });
        else res.destroy();
      });
    },
  );

  async function handle(req: IncomingMessage, res: ServerResponse): Promise<void> {
    const path = (req.url ?? "/").split("?", 1)[0];
    if (req.method !== "GET" && req.method !== "HEAD") return json(res, 404, notFound(req));
    switch (path) {
      case "/healthz":
        return json(res, 200, { status: "ok" });
      case "/readyz": {
        const why = notReadyBecause();
        return why ? json(res, 503, { status: "not ready", reason: why }) : json(res, 200, { status: "ready" });
      }
      case "/metrics": {
        const text = await registry.metrics();
        res.writeHead(200, { "content-type": registry.contentType, "content-length": Buffer.byteLength(text) });
        res.end(text); // node:http sends no body for HEAD
        return;
      }
      default:
        return json(res, 404, notFound(req));
    }
  }

  await new Promise<void>((resolve, reject) => {
    server.once("error", reject);
    server.listen(opts.port, opts.host, () => {
      server.off("error", reject);
      resolve();
    });
  });
  // After start, a connection-level error is the client's problem, never the process's.
  server.on("clientError", (_e, socket) => socket.destroy());
  let closing: Promise<void> | undefined;
  return {
    server,
    port: (server.address() as AddressInfo).port,
    close: () =>
      (closing ??= new Promise<void>((resolve) => {
        server.close(() => resolve());
        server.closeIdleConnections();
        setTimeout(() => server.closeAllConnections(), CLOSE_GRACE_MS).unref();
      })),
  };
}

function json(res: ServerResponse, status: number, body: unknown): void {
  const text = JSON.stringify(body);
  res.writeHead(status, { "content-type": "application/json; charset=utf-8", "content-length": Buffer.byteLength(text) });
  res.end(text);
}

/** Fastify's shape, so a client sees the same 404 either way. */
function notFound(req: IncomingMessage): unknown {
  return { message: `Route ${req.method ?? "?"}:${(req.url ?? "/").slice(0, 200)} not found`, error: "Not Found", statusCode: 404 };
}

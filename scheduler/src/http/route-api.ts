import type { RouteTable } from "@enclave/contracts";
import type { FastifyInstance, FastifyReply } from "fastify";
import type { RouteWatchers } from "../routes/route-watchers.js";
import { requireAuth, type Authenticator } from "./auth.js";
import { sendError } from "./errors.js";

/** The longest a route long-poll is held, ms. */
export const MAX_ROUTE_WAIT_MS = 25000;

export interface RouteApiDeps {
  auth: Authenticator;
  current(): RouteTable;
  /** The table as JSON: the current one is serialised once, however many gateways fetch it. */
  json(table: RouteTable): string;
  watchers: RouteWatchers;
}

type Query = { ok: true; after: number | undefined; waitMs: number } | { ok: false; message: string };

/** `after` and `waitMs` from the query string: non-negative integers; `waitMs` capped. */
export function parseRouteQuery(q: Record<string, unknown>): Query {
  const after = q["after"];
  const wait = q["waitMs"];
  const int = (v: unknown) => (typeof v === "string" && /^\d{1,16}$/.test(v) ? Number(v) : undefined);
  if (after !== undefined && int(after) === undefined) return { ok: false, message: "after must be a non-negative integer version" };
  if (wait !== undefined && int(wait) === undefined) return { ok: false, message: "waitMs must be a non-negative integer" };
  return { ok: true, after: int(after), waitMs: Math.min(int(wait) ?? MAX_ROUTE_WAIT_MS, MAX_ROUTE_WAIT_MS) };
}

/**
 * `GET /v1/routes?after=V&waitMs=W`: the table at once if it is newer than V (or no V was
 * given); otherwise held until a newer one appears or W ms pass, then the current table.
 */
export function registerRouteApi(app: FastifyInstance, deps: RouteApiDeps): void {
  const send = (reply: FastifyReply, table: RouteTable) => reply.type("application/json; charset=utf-8").send(deps.json(table));
  app.get("/v1/routes", { onRequest: requireAuth(deps.auth, { kind: "routes" }) }, async (req, reply) => {
    const q = parseRouteQuery(req.query as Record<string, unknown>);
    if (!q.ok) return sendError(reply, 400, "invalid_request", q.message);
    const table = deps.current();
    if (q.after === undefined || table.version > q.after || q.waitMs === 0) return send(reply, table);
    const w = deps.watchers.watch(q.after, q.waitMs);
    if (!w.ok) {
      return w.reason === "full"
        ? sendError(reply, 503, "too_many_watchers", "too many route watchers; retry later")
        : sendError(reply, 503, "unavailable", "the scheduler is shutting down");
    }
    // A client that hangs up frees its slot at once.
    const onClose = () => w.cancel();
    reply.raw.once("close", onClose);
    try {
      return send(reply, await w.wait);
    } finally {
      reply.raw.off("close", onClose);
    }
  });
}

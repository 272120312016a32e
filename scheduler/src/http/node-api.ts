import { NodeReport, type NodeList } from "@enclave/contracts";
import type { Logger, TokenSet } from "@enclave/runtime";
import type { FastifyInstance } from "fastify";
import type { HeartbeatResult, SchedulerMetrics } from "../metrics.js";
import type { NodeStore } from "../registry/node-store.js";
import { authorize, requireReader, type Principal } from "./auth.js";
import { describeIssues } from "./describe-issues.js";
import { sendError } from "./errors.js";

export const HEARTBEAT_BODY_LIMIT = 1024 * 1024;

export interface NodeApiDeps {
  tokens: TokenSet<Principal>;
  nodes: NodeStore;
  metrics: SchedulerMetrics;
  log: Logger;
  /** Called after each accepted report (the route table may have changed). */
  onReport(nodeId: string): void;
}

/** `POST /v1/nodes/:id/heartbeat` (the node's own token) and `GET /v1/nodes` (readers). */
export function registerNodeApi(app: FastifyInstance, deps: NodeApiDeps): void {
  const count = (result: HeartbeatResult) => deps.metrics.heartbeats.inc({ result });

  app.post<{ Params: { id: string } }>("/v1/nodes/:id/heartbeat", {
    bodyLimit: HEARTBEAT_BODY_LIMIT,
    // Authenticated before the body is read, so strangers cannot make us parse megabytes.
    onRequest: async (req, reply) => {
      const d = authorize(deps.tokens, req.headers.authorization, { role: "node", nodeId: req.params.id });
      if (d.ok) return undefined;
      count(d.status === 401 ? "unauthorized" : "forbidden");
      return sendError(reply, d.status, d.status === 401 ? "unauthorized" : "forbidden", d.message);
    },
    // Unreadable bodies (bad JSON, too large) fail before the handler; count them too.
    onError: async (_req, reply) => {
      if (reply.statusCode < 500) count("invalid");
      else count("error");
    },
    handler: async (req, reply) => {
      const id = req.params.id;
      const parsed = NodeReport.safeParse(req.body);
      if (!parsed.success) {
        count("invalid");
        return sendError(reply, 400, "invalid_request", `invalid node report: ${describeIssues(parsed.error.issues)}`);
      }
      const report = parsed.data;
      const foreign = report.backends.find((b) => b.nodeId !== id);
      if (report.nodeId !== id || foreign) {
        count("invalid");
        const what = report.nodeId !== id ? `nodeId "${report.nodeId}"` : `backend ${foreign?.id} of node "${foreign?.nodeId}"`;
        return sendError(reply, 400, "invalid_request", `invalid node report: ${what} in a heartbeat for node "${id}"`);
      }
      try {
        await deps.nodes.put(report, Date.now());
      } catch (e) {
        count("error");
        deps.log.warn({ err: { message: (e as Error).message }, node: id }, "could not store a heartbeat");
        return sendError(reply, 503, "unavailable", "the node registry is unavailable; retry later");
      }
      count("ok");
      deps.onReport(id);
      return { ok: true };
    },
  });

  app.get("/v1/nodes", { onRequest: requireReader(deps.tokens) }, async (_req, reply) => {
    try {
      const nodes: NodeList = { nodes: await deps.nodes.live() };
      return nodes;
    } catch (e) {
      deps.log.warn({ err: { message: (e as Error).message } }, "could not list nodes");
      return sendError(reply, 503, "unavailable", "the node registry is unavailable; retry later");
    }
  });
}

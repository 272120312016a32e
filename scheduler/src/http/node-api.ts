import { DrainRequest, Id, NodeReport, type CordonResult, type NodeList } from "@enclave/contracts";
import type { Logger } from "@enclave/runtime";
import type { FastifyInstance } from "fastify";
import type { OperatorAudit } from "../audit/operator-audit.js";
import type { HeartbeatResult, SchedulerMetrics } from "../metrics.js";
import type { AssignmentStore } from "../reconcile/assignment-store.js";
import type { CordonStore } from "../registry/cordon-store.js";
import type { NodeStore } from "../registry/node-store.js";
import { nodeViews } from "../registry/node-view.js";
import { pinViolation, requireAuth, type Authenticator } from "./auth.js";
import { describeIssues } from "./describe-issues.js";
import { sendError } from "./errors.js";
import { auditDenied, runOperatorAction } from "./operator-action.js";

export const HEARTBEAT_BODY_LIMIT = 1024 * 1024;

export interface NodeApiDeps {
  auth: Authenticator;
  nodes: NodeStore;
  cordons: CordonStore;
  assignments: AssignmentStore;
  audit: OperatorAudit | undefined;
  metrics: SchedulerMetrics;
  log: Logger;
  /** Called after each accepted report (the route table may have changed). */
  onReport(nodeId: string): void;
  /** A node was cordoned or uncordoned. */
  onCordonChange(): void;
}

type IdParams = { Params: { id: string } };

/**
 * `POST /v1/nodes/:id/heartbeat` (the node's own token), `GET /v1/nodes` (viewers), and
 * `POST /v1/nodes/:id/drain|uncordon` (operators, audited).
 */
export function registerNodeApi(app: FastifyInstance, deps: NodeApiDeps): void {
  const count = (result: HeartbeatResult) => deps.metrics.heartbeats.inc({ result });

  app.post<IdParams>("/v1/nodes/:id/heartbeat", {
    bodyLimit: HEARTBEAT_BODY_LIMIT,
    // Authenticated before the body is read, so strangers cannot make us parse megabytes.
    onRequest: requireAuth(deps.auth, (req) => ({ kind: "heartbeat", nodeId: (req.params as { id: string }).id }), (_req, d) =>
      count(d.status === 401 ? "unauthorized" : "forbidden"),
    ),
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
      const breach = pinViolation(deps.auth.pinOf(id), report);
      if (breach !== undefined) {
        count("forbidden");
        deps.log.warn({ node: id, region: report.region, jurisdiction: report.jurisdiction }, "refused a heartbeat that claims another region or jurisdiction than the node's configured one");
        return sendError(reply, 403, "forbidden", `node "${id}" reports ${breach}`);
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

  app.get("/v1/nodes", { onRequest: requireAuth(deps.auth, { kind: "read" }) }, async (_req, reply) => {
    try {
      const [live, cordons, assignments] = await Promise.all([deps.nodes.live(), deps.cordons.all(), deps.assignments.all()]);
      const list: NodeList = { nodes: nodeViews(live, cordons, assignments) };
      return list;
    } catch (e) {
      deps.log.warn({ err: { message: (e as Error).message } }, "could not list nodes");
      return sendError(reply, 503, "unavailable", "the node registry is unavailable; retry later");
    }
  });

  const nodeOf = async (id: string) => (await deps.nodes.live().catch(() => [])).find((n) => n.nodeId === id);

  app.post<IdParams>("/v1/nodes/:id/drain", {
    bodyLimit: 16 * 1024,
    onRequest: requireAuth(deps.auth, { kind: "operate" }, auditDenied(deps, (req) => ({ action: "node.drain", nodeId: validId((req.params as { id: string }).id) }))),
    handler: async (req, reply) => {
      const id = req.params.id;
      const body = DrainRequest.safeParse(req.body ?? {});
      const node = Id.safeParse(id).success ? await nodeOf(id) : undefined;
      return runOperatorAction(deps, req, reply, { action: "node.drain", nodeId: validId(id), region: node?.region ?? null, body: JSON.stringify(req.body ?? null) }, async () => {
        if (!Id.safeParse(id).success || !deps.auth.knowsNode(id)) return { status: 404, code: "not_found", reason: `no node "${id.slice(0, 100)}" is configured` };
        if (!body.success) return { status: 400, code: "invalid_request", reason: `invalid drain request: ${describeIssues(body.error.issues)}` };
        const r = await deps.cordons.cordon(id, { since: Date.now(), by: req.principal?.id ?? "unknown", reason: body.data.reason ?? "" });
        if (r.changed) deps.onCordonChange();
        const result: CordonResult = { nodeId: id, cordon: r.cordon, changed: r.changed };
        return { status: 200, reason: r.changed ? `cordoned ${id}; its replicas move to other nodes of ${node?.region ?? "its region"}` : `${id} was already cordoned`, body: result };
      });
    },
  });

  app.post<IdParams>("/v1/nodes/:id/uncordon", {
    bodyLimit: 16 * 1024,
    onRequest: requireAuth(deps.auth, { kind: "operate" }, auditDenied(deps, (req) => ({ action: "node.uncordon", nodeId: validId((req.params as { id: string }).id) }))),
    handler: async (req, reply) => {
      const id = req.params.id;
      const node = Id.safeParse(id).success ? await nodeOf(id) : undefined;
      return runOperatorAction(deps, req, reply, { action: "node.uncordon", nodeId: validId(id), region: node?.region ?? null }, async () => {
        if (!Id.safeParse(id).success || !deps.auth.knowsNode(id)) return { status: 404, code: "not_found", reason: `no node "${id.slice(0, 100)}" is configured` };
        const changed = await deps.cordons.uncordon(id);
        if (changed) deps.onCordonChange();
        const result: CordonResult = { nodeId: id, cordon: null, changed };
        return { status: 200, reason: changed ? `uncordoned ${id}` : `${id} was not cordoned`, body: result };
      });
    },
  });
}

/** A node id fit for an audit record, or null (the record never carries arbitrary path text). */
function validId(id: string): string | null {
  return Id.safeParse(id).success ? id : null;
}

import { createHash, timingSafeEqual } from "node:crypto";
import type { SchedulerConfig } from "@enclave/contracts";
import { TokenSet, bearer } from "@enclave/runtime";
import type { FastifyReply, FastifyRequest } from "fastify";
import { sendError } from "./errors.js";

/**
 * Who a token stands for. node: heartbeats for its own node; reader (gateways): the route table
 * only; viewer: every read; operator: every read and the operator actions.
 */
export type Principal =
  | { role: "node"; id: string }
  | { role: "reader"; id: string }
  | { role: "viewer"; id: string }
  | { role: "operator"; id: string };

/** A node's configured region and jurisdiction (`auth.nodes[]`). */
export interface NodePin {
  region: string | undefined;
  jurisdiction: string | undefined;
}

/**
 * Why a report breaks its node's pin, or undefined if it keeps it. Pure: the scheduler, not the
 * node, is the authority on where hardware is.
 */
export function pinViolation(pin: NodePin | undefined, report: { region: string; jurisdiction: string }): string | undefined {
  if (pin?.region !== undefined && report.region !== pin.region) return `region "${report.region}", but the node is configured in "${pin.region}"`;
  if (pin?.jurisdiction !== undefined && report.jurisdiction !== pin.jurisdiction) return `jurisdiction "${report.jurisdiction}", but the node is configured under "${pin.jurisdiction}"`;
  return undefined;
}

/** What a request needs. */
export type Need = { kind: "heartbeat"; nodeId: string } | { kind: "routes" } | { kind: "read" } | { kind: "operate" };

export type AuthDecision = { ok: true; principal: Principal } | { ok: false; status: 401 | 403; message: string; principal?: Principal };

/**
 * Every configured token, hashed, in one set: a token is recognised whatever it may do, so a
 * known token without the right gets 403 and an unknown one 401. Comparisons are constant-time.
 */
export class Authenticator {
  private readonly tokens: TokenSet<Principal>;
  /** Each node's own digest: a heartbeat compares against one digest instead of every token. */
  private readonly nodeDigests: Map<string, Buffer>;
  private readonly pins: Map<string, NodePin>;

  constructor(auth: SchedulerConfig["auth"]) {
    this.tokens = new TokenSet<Principal>([
      ...auth.nodes.map((n) => ({ sha256: n.tokenSha256, value: { role: "node" as const, id: n.id } })),
      ...auth.readers.map((r) => ({ sha256: r.tokenSha256, value: { role: "reader" as const, id: r.id } })),
      ...auth.operators.map((o) => ({ sha256: o.tokenSha256, value: { role: o.role, id: o.id } })),
    ]);
    this.nodeDigests = new Map(auth.nodes.map((n) => [n.id, Buffer.from(n.tokenSha256, "hex")]));
    this.pins = new Map(auth.nodes.map((n) => [n.id, { region: n.region, jurisdiction: n.jurisdiction }]));
  }

  /** Where a node's hardware is, as configured; undefined fields are not pinned. */
  pinOf(nodeId: string): NodePin | undefined {
    return this.pins.get(nodeId);
  }

  /** Whether a node id is configured at all. */
  knowsNode(nodeId: string): boolean {
    return this.nodeDigests.has(nodeId);
  }

  /** Missing or unknown token → 401; a known token without the right → 403. */
  authorize(authorization: string | undefined, need: Need): AuthDecision {
    const token = bearer(authorization);
    if (need.kind === "heartbeat" && token !== undefined) {
      // The hot path: one digest, compared in constant time; anything else takes the full lookup below.
      const own = this.nodeDigests.get(need.nodeId);
      if (own !== undefined && timingSafeEqual(own, createHash("sha256").update(token).digest())) return { ok: true, principal: { role: "node", id: need.nodeId } };
    }
    const principal = this.tokens.match(token);
    if (principal === undefined) return { ok: false, status: 401, message: "missing or unknown bearer token" };
    return decide(principal, need);
  }
}

function decide(p: Principal, need: Need): AuthDecision {
  const ok: AuthDecision = { ok: true, principal: p };
  const deny = (message: string): AuthDecision => ({ ok: false, status: 403, message, principal: p });
  switch (need.kind) {
    case "heartbeat":
      if (p.role !== "node") return deny("only node tokens may send heartbeats");
      return p.id === need.nodeId ? ok : deny("a node token may only heartbeat for its own node");
    case "routes":
      return p.role === "reader" || p.role === "viewer" || p.role === "operator" ? ok : deny("this token may not read the route table");
    case "read":
      if (p.role === "viewer" || p.role === "operator") return ok;
      return deny(p.role === "reader" ? "a route-reader token may only read the route table" : "this token may not read the scheduler API");
    case "operate":
      if (p.role === "operator") return ok;
      return deny(p.role === "viewer" ? "a viewer token may only read; this action needs an operator token" : "this action needs an operator token");
  }
}

declare module "fastify" {
  interface FastifyRequest {
    /** Set by `requireAuth` once the request is authorised. */
    principal?: Principal;
  }
}

/** An `onRequest` hook: runs before any body is read, so strangers cannot make us parse megabytes. */
export function requireAuth(auth: Authenticator, need: Need | ((req: FastifyRequest) => Need), onDenied?: (req: FastifyRequest, d: AuthDecision & { ok: false }) => void) {
  return async (req: FastifyRequest, reply: FastifyReply) => {
    const d = auth.authorize(req.headers.authorization, typeof need === "function" ? need(req) : need);
    if (d.ok) {
      req.principal = d.principal;
      return undefined;
    }
    onDenied?.(req, d);
    return sendError(reply, d.status, d.status === 401 ? "unauthorized" : "forbidden", d.message);
  };
}

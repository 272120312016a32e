import type { SchedulerConfig } from "@enclave/contracts";
import { TokenSet, bearer } from "@enclave/runtime";
import type { FastifyReply, FastifyRequest } from "fastify";
import { sendError } from "./errors.js";

export type Principal = { role: "node"; id: string } | { role: "reader"; id: string };

/** Node and reader tokens, hashed, in one set: a token is recognised whatever it is allowed to do. */
export function principalTokens(auth: SchedulerConfig["auth"]): TokenSet<Principal> {
  return new TokenSet<Principal>([
    ...auth.nodes.map((n) => ({ sha256: n.tokenSha256, value: { role: "node" as const, id: n.id } })),
    ...auth.readers.map((r) => ({ sha256: r.tokenSha256, value: { role: "reader" as const, id: r.id } })),
  ]);
}

export type AuthDecision = { ok: true; principal: Principal } | { ok: false; status: 401 | 403; message: string };

/**
 * Unknown or missing token → 401; a known token without the right → 403.
 * `nodeId` given: only that node's own token may act for it.
 */
export function authorize(tokens: TokenSet<Principal>, authorization: string | undefined, need: { role: "reader" } | { role: "node"; nodeId: string }): AuthDecision {
  const principal = tokens.match(bearer(authorization));
  if (principal === undefined) return { ok: false, status: 401, message: "missing or unknown bearer token" };
  if (need.role === "reader") {
    return principal.role === "reader" ? { ok: true, principal } : { ok: false, status: 403, message: "this token may not read the scheduler API" };
  }
  if (principal.role !== "node") return { ok: false, status: 403, message: "only node tokens may send heartbeats" };
  if (principal.id !== need.nodeId) return { ok: false, status: 403, message: "a node token may only heartbeat for its own node" };
  return { ok: true, principal };
}

/** An `onRequest` hook for the read API: runs before any body is read. */
export function requireReader(tokens: TokenSet<Principal>) {
  return async (req: FastifyRequest, reply: FastifyReply) => {
    const d = authorize(tokens, req.headers.authorization, { role: "reader" });
    if (!d.ok) return sendError(reply, d.status, d.status === 401 ? "unauthorized" : "forbidden", d.message);
    return undefined;
  };
}

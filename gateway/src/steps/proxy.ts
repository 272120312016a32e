import type { IncomingHttpHeaders } from "node:http";
import type { RouteEntry } from "@enclave/contracts";
import type { InFlight } from "../inflight.js";
import type { Backend } from "../routing/backends.js";
import type { Breakers } from "../routing/breaker.js";
import { isCompliant, type AllowedSet } from "../routing/filter.js";
import { pickBackend } from "../routing/pick.js";
import type { RoutingWeights } from "../routing/score.js";
import type { Cancel } from "../upstream/cancel.js";
import type { UpstreamClient, UpstreamResponse } from "../upstream/client.js";

/** What one attempt at a backend came to before any byte reached the client. */
export type AttemptOutcome = { kind: "status"; status: number } | { kind: "error"; error: unknown };

/**
 * Retry on another backend when nothing can have reached the client yet and the
 * backend, not the request, is the likely fault: no connection, no headers in
 * time, or a 5xx. A 4xx is the engine's verdict on the request and is passed on.
 */
export function shouldRetry(o: AttemptOutcome): boolean {
  return o.kind === "error" || o.status >= 500;
}

/** Header values passed on only when plain printable ASCII (nothing the engine or node:http could choke on). */
const PRINTABLE = /^[\x20-\x7e]{1,256}$/;

/** Request headers an engine gets: a whitelist, so credentials, cookies and Host never leave the gateway. */
export function upstreamHeaders(client: IncomingHttpHeaders): Record<string, string> {
  // The body was validated as JSON; a client that labelled it otherwise should not make the engine refuse it.
  const ct = firstValue(client["content-type"]);
  const accept = firstValue(client.accept);
  return {
    "content-type": ct !== undefined && /^application\/json\b/i.test(ct) && PRINTABLE.test(ct) ? ct : "application/json",
    accept: accept !== undefined && PRINTABLE.test(accept) ? accept : "*/*",
  };
}

const HOP_BY_HOP = new Set([
  "connection", "keep-alive", "proxy-authenticate", "proxy-authorization", "te", "trailer", "trailers",
  "transfer-encoding", "upgrade", "x-enclave-region", "x-enclave-backend",
]);

/** The engine's response headers as the client gets them, with where it was served. */
export function clientHeaders(upstream: Record<string, string | string[] | undefined>, entry: RouteEntry): Record<string, string | string[]> {
  const out: Record<string, string | string[]> = {};
  for (const k in upstream) {
    const v = upstream[k];
    if (v === undefined || HOP_BY_HOP.has(k.toLowerCase())) continue;
    out[k] = v;
  }
  out["x-enclave-region"] = entry.region;
  out["x-enclave-backend"] = entry.backendId;
  return out;
}

export type Connected =
  | { ok: true; entry: Backend; response: UpstreamResponse; retries: number; release: () => void }
  | { ok: false; retries: number; failures: string[]; aborted: boolean; why: "circuits_open" | "attempts_failed" };

export interface ConnectOptions {
  client: UpstreamClient;
  candidates: readonly Backend[];
  /** Checked again for every attempt: a backend outside it is never called, whatever the candidates say. */
  allowed: AllowedSet;
  maxRetries: number;
  inflight: InFlight;
  breakers: Breakers;
  affinityKey: string | undefined;
  routing: { weights: RoutingWeights; maxImbalance: number };
  /** The endpoint's fixed path, after the backend's base path, e.g. `/v1/chat/completions`. */
  path: string;
  headers: Record<string, string>;
  body: Buffer | string;
  /** performance.now() by which the whole request must be over. */
  deadline: number;
  cancel: Cancel;
  onRetry: () => void;
  random?: () => number;
}

/**
 * Tries backends (power of two choices over the compliant ones whose breaker
 * admits them) until one answers below 500 or the retry budget or the candidates
 * run out. Only backend faults (no connection, no headers in time, 5xx) count
 * against a breaker; a client that went away counts against nobody. Each backend
 * is dialled at the target decided when the route table arrived, nothing else.
 * Returns the open response; the caller reads it and calls `release`.
 */
export async function connectUpstream(o: ConnectOptions): Promise<Connected> {
  const tried = new Set<string>();
  const failures: string[] = [];
  for (let attempt = 0; attempt <= o.maxRetries; attempt++) {
    const pick = pickBackend({
      candidates: o.candidates,
      exclude: tried,
      inflight: o.inflight.count,
      admits: o.breakers.admits,
      affinityKey: o.affinityKey,
      weights: o.routing.weights,
      maxImbalance: o.routing.maxImbalance,
      random: o.random ?? Math.random,
    });
    if (!pick) break;
    const entry = pick.entry;
    if (!isCompliant(entry, o.allowed)) {
      throw new Error(`refusing backend ${entry.backendId} in ${entry.region}/${entry.jurisdiction}: outside the allowed set`);
    }
    tried.add(entry.backendId);
    if (attempt > 0) o.onRetry();
    const release = o.inflight.acquire(entry.backendId);
    o.breakers.attempt(entry.backendId);
    let outcome: AttemptOutcome;
    try {
      const response = await o.client.request({ target: entry.target, path: o.path, headers: o.headers, body: o.body, deadline: o.deadline, cancel: o.cancel });
      outcome = { kind: "status", status: response.statusCode };
      if (!shouldRetry(outcome)) {
        o.breakers.success(entry.backendId);
        return { ok: true, entry, response, retries: attempt, release };
      }
      // Drained, not destroyed, so the keep-alive connection can be reused.
      response.discard();
    } catch (error) {
      outcome = { kind: "error", error };
    }
    release();
    if (o.cancel.aborted) {
      o.breakers.abandon(entry.backendId);
      return { ok: false, retries: attempt, failures, aborted: true, why: "attempts_failed" };
    }
    o.breakers.fault(entry.backendId);
    failures.push(`${entry.backendId}: ${outcome.kind === "status" ? `status ${outcome.status}` : describeError(outcome.error)}`);
  }
  const why = tried.size === 0 ? "circuits_open" : "attempts_failed";
  if (why === "circuits_open") failures.push("every compliant backend's circuit is open");
  return { ok: false, retries: Math.max(0, tried.size - 1), failures, aborted: false, why };
}

/** A short, secret-free name for a transport error (this client's codes, errno codes). */
export function describeError(e: unknown): string {
  if (e && typeof e === "object") {
    const err = e as { code?: unknown; cause?: { code?: unknown }; name?: unknown; message?: unknown };
    if (typeof err.code === "string") return err.code;
    if (typeof err.cause?.code === "string") return err.cause.code;
    if (typeof err.name === "string" && err.name !== "Error") return err.name;
    if (typeof err.message === "string") return err.message.slice(0, 120);
  }
  return "error";
}

function firstValue(v: string | string[] | undefined): string | undefined {
  return Array.isArray(v) ? v[0] : v;
}

import type { RouteEntry } from "@enclave/contracts";

export interface RoutingWeights {
  inflight: number;
  queue: number;
  kvCache: number;
  affinity: number;
}

export interface ScoreInputs {
  /** Requests this gateway has open to the backend. */
  inflight: number;
  /** The affinity target, if affinity holds for this request. */
  preferred: string | undefined;
}

/** inflight scorer: 1 / (1 + in-flight at this gateway). */
export const inflightScore = (inflight: number): number => 1 / (1 + inflight);
/** queue scorer: 1 / (1 + the engine's waiting requests); unknown load scores as an empty queue. */
export const queueScore = (e: RouteEntry): number => 1 / (1 + (e.load?.waiting ?? 0));
/** KV-cache scorer: 1 − KV-cache use; unknown load scores as an empty cache. */
export const kvCacheScore = (e: RouteEntry): number => 1 - (e.load?.kvCacheUsage ?? 0);
/** affinity scorer: 1 for the backend the conversation's prefix hashes to, else 0. */
export const affinityScore = (e: RouteEntry, preferred: string | undefined): number => (e.backendId === preferred ? 1 : 0);

/** The weighted sum of the scorers: higher is better. */
export function score(e: RouteEntry, inputs: ScoreInputs, w: RoutingWeights): number {
  return (
    w.inflight * inflightScore(inputs.inflight) +
    w.queue * queueScore(e) +
    w.kvCache * kvCacheScore(e) +
    w.affinity * affinityScore(e, inputs.preferred)
  );
}

/** A backend's load in requests: open here plus waiting at the engine. */
export function loadOf(e: RouteEntry, inflight: number): number {
  return inflight + (e.load?.waiting ?? 0);
}

import type { RouteEntry } from "@enclave/contracts";
import { rendezvousPick } from "./affinity.js";
import { loadOf, score, type RoutingWeights } from "./score.js";

export interface PickInput<T extends RouteEntry = RouteEntry> {
  candidates: readonly T[];
  /** Already tried for this request: never picked again. */
  exclude: ReadonlySet<string>;
  inflight: (backendId: string) => number;
  /** May the breaker let a request through? */
  admits: (backendId: string) => boolean;
  affinityKey: string | undefined;
  weights: RoutingWeights;
  /** Affinity yields when its backend's load exceeds the least loaded by more than this. */
  maxImbalance: number;
  random: () => number;
}

export interface Pick<T extends RouteEntry = RouteEntry> {
  entry: T;
  /** The affinity target was chosen because of affinity. */
  affinity: boolean;
}

/**
 * Power of two choices: of two candidates, the better scored wins. When affinity
 * holds, the conversation's rendezvous backend is always one of the two, so it
 * keeps its KV cache unless the other is clearly less loaded; when the target's
 * load exceeds the least loaded by more than `maxImbalance`, affinity yields and
 * both choices are random. Ties go to the random source.
 */
export function pickBackend<T extends RouteEntry>(p: PickInput<T>): Pick<T> | undefined {
  const open = p.candidates.filter((c) => !p.exclude.has(c.backendId) && p.admits(c.backendId));
  if (open.length === 0) return undefined;
  if (open.length === 1) return { entry: open[0]!, affinity: false };

  let preferred: string | undefined;
  if (p.affinityKey !== undefined && p.weights.affinity > 0) {
    const target = rendezvousPick(p.affinityKey, open.map((c) => c.backendId));
    const targetEntry = open.find((c) => c.backendId === target)!;
    const minLoad = Math.min(...open.map((c) => loadOf(c, p.inflight(c.backendId))));
    if (loadOf(targetEntry, p.inflight(targetEntry.backendId)) - minLoad <= p.maxImbalance) preferred = target;
  }

  const i = Math.floor(p.random() * open.length) % open.length;
  let a = open[i]!;
  let b: T;
  if (preferred !== undefined) {
    a = open.find((c) => c.backendId === preferred)!;
    const others = open.filter((c) => c !== a);
    b = others[Math.floor(p.random() * others.length) % others.length]!;
  } else {
    let j = Math.floor(p.random() * (open.length - 1)) % (open.length - 1);
    if (j >= i) j++;
    b = open[j]!;
  }
  const sa = score(a, { inflight: p.inflight(a.backendId), preferred }, p.weights);
  const sb = score(b, { inflight: p.inflight(b.backendId), preferred }, p.weights);
  const winner = sa > sb ? a : sb > sa ? b : p.random() < 0.5 ? a : b;
  return { entry: winner, affinity: winner.backendId === preferred };
}

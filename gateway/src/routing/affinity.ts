/**
 * Prefix affinity by rendezvous (highest-random-weight) hashing: every backend
 * gets a weight hash(key, backend) and the highest wins. Adding or removing a
 * backend moves only the keys that belonged to it, so KV caches stay warm.
 */
export function rendezvousPick(key: string, backendIds: readonly string[]): string | undefined {
  const k = fnv1a(key, 0x811c9dc5);
  let best: string | undefined;
  let bestWeight = -1;
  for (const id of backendIds) {
    const w = mix(fnv1a(id, k));
    if (w > bestWeight || (w === bestWeight && best !== undefined && id < best)) {
      bestWeight = w;
      best = id;
    }
  }
  return best;
}

/** 32-bit FNV-1a over UTF-16 code units, seeded. */
export function fnv1a(s: string, seed: number): number {
  let h = seed >>> 0;
  for (let i = 0; i < s.length; i++) {
    h ^= s.charCodeAt(i);
    h = Math.imul(h, 0x01000193) >>> 0;
  }
  return h >>> 0;
}

/** A finaliser (murmur3's) so weights are well spread. */
function mix(h: number): number {
  h ^= h >>> 16;
  h = Math.imul(h, 0x85ebca6b);
  h ^= h >>> 13;
  h = Math.imul(h, 0xc2b2ae35);
  h ^= h >>> 16;
  return h >>> 0;
}

/**
 * The affinity key of a request: an explicit session key (header `x-enclave-session`
 * or OpenAI's `user`) if given, else the leading `maxChars` of its conversation.
 */
export function affinityKey(session: string | undefined, leadingText: string, maxChars: number): string | undefined {
  if (session !== undefined && session !== "") return `s:${session}`;
  if (leadingText === "") return undefined;
  return `p:${leadingText.length > maxChars ? leadingText.slice(0, maxChars) : leadingText}`;
}

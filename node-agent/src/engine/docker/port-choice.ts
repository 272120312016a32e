/**
 * A host port for a new engine: from `range`, not in `used`, starting at a random
 * point so agents sharing a range (or a port held by something else) rarely collide
 * twice. undefined when the range is full.
 */
export function choosePort(range: { from: number; to: number }, used: ReadonlySet<number>, random: () => number = Math.random): number | undefined {
  const size = range.to - range.from + 1;
  if (size <= 0) return undefined;
  const start = Math.floor(random() * size) % size;
  for (let i = 0; i < size; i++) {
    const port = range.from + ((start + i) % size);
    if (!used.has(port)) return port;
  }
  return undefined;
}

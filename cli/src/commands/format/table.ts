/** Left-aligned columns separated by two spaces; the last column is not padded. */
export function table(header: readonly string[], rows: readonly (readonly string[])[]): string {
  const widths = header.map((h, i) => Math.max(h.length, ...rows.map((r) => (r[i] ?? "").length)));
  const line = (cells: readonly string[]) =>
    cells
      .map((c, i) => (i === cells.length - 1 ? c : c.padEnd(widths[i] ?? 0)))
      .join("  ")
      .trimEnd();
  return [line(header), ...rows.map(line)].join("\n") + "\n";
}

/** MiB as GiB with one decimal under 100 GiB (`79.6 GiB`, `612 GiB`). */
export function gib(mib: number): string {
  const g = mib / 1024;
  return `${g < 100 ? g.toFixed(1) : Math.round(g)} GiB`;
}

/** At most `max` items, then `+N`. */
export function some(items: readonly string[], max: number): string {
  if (items.length <= max) return items.join(", ");
  return `${items.slice(0, max).join(", ")}, +${items.length - max}`;
}

/** `nvidia-smi --query-gpu=... --format=csv` output, each row keyed by the field names of the header line. */
export interface QueryTable {
  /** Field names in header order, units (` [MiB]`) cut off. */
  fields: string[];
  rows: Record<string, string>[];
  /** Lines that were not rows of the table (an error about one GPU, a torn line). */
  strayLines: string[];
}

export type QueryCsvResult = { ok: true; table: QueryTable } | { ok: false; error: string };

/** Field names are dotted lower-case words (`clocks_event_reasons.hw_slowdown`, `encoder.stats.sessionCount`). */
const FIELD_NAME = /^[A-Za-z][A-Za-z0-9_]*(?:\.[A-Za-z0-9_]+)*$/;
/** Bounds on what a sane answer has, so garbage cannot make us allocate without limit. */
const MAX_ROWS = 64;
const MAX_STRAY = 16;

/**
 * Parses the CSV by the header's field names, never by position, so a driver that orders or
 * names columns differently is read correctly. Values keep their units (`45 C`) and their
 * placeholders (`[N/A]`); values.ts interprets them.
 */
export function parseQueryCsv(text: string): QueryCsvResult {
  const lines = text.split(/\r?\n/).filter((l) => l.trim() !== "");
  const headerLine = lines.shift();
  if (headerLine === undefined) return { ok: false, error: "nvidia-smi printed nothing" };
  const fields = headerLine.split(",").map((h) => h.trim().replace(/\s*\[[^\]]*\]$/, ""));
  const bad = fields.find((f) => !FIELD_NAME.test(f));
  if (bad !== undefined) return { ok: false, error: `nvidia-smi printed no CSV header: ${JSON.stringify(headerLine.slice(0, 120))}` };
  if (new Set(fields).size !== fields.length) return { ok: false, error: "nvidia-smi's CSV header repeats a field" };

  const rows: Record<string, string>[] = [];
  const strayLines: string[] = [];
  for (const line of lines) {
    const cells = line.split(",").map((c) => c.trim());
    if (cells.length !== fields.length) {
      if (strayLines.length < MAX_STRAY) strayLines.push(line.trim().slice(0, 200));
      continue;
    }
    if (rows.length >= MAX_ROWS) continue;
    const row: Record<string, string> = Object.create(null) as Record<string, string>;
    fields.forEach((f, i) => (row[f] = cells[i] ?? ""));
    rows.push(row);
  }
  return { ok: true, table: { fields, rows, strayLines } };
}

/** nvidia-smi's answer to a field the installed driver does not know: `Field "x" is not a valid field to query.` (exit code 2). */
export function rejectedField(output: string): string | undefined {
  return /Field "([^"]{1,100})" is not a valid field to query/.exec(output)?.[1];
}

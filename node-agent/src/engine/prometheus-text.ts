import parsePrometheusTextFormat from "parse-prometheus-text-format";

/** One sample of the Prometheus text exposition format. */
export interface PromSample {
  name: string;
  labels: Readonly<Record<string, string>>;
  value: number;
}

/**
 * Parses the Prometheus text format with parse-prometheus-text-format, tolerantly
 * (the text always gets a final newline: without one the library drops the last sample):
 * the library rejects a whole page for one line it cannot read, so such a page is
 * read again line by line and only the bad lines are lost. `names`, when given,
 * keeps only those metric families (and skips the work of parsing the others, such
 * as an engine's many histograms); their `_created`/`_bucket` series are not them.
 * At most `maxSamples` samples are kept, to bound what a hostile body can cost.
 */
export function parsePrometheusText(text: string, maxSamples = 100_000, names?: ReadonlySet<string>): PromSample[] {
  const lines = names === undefined ? text.split("\n") : text.split("\n").filter((l) => names.has(lineMetricName(l) ?? ""));
  let samples: PromSample[];
  try {
    samples = fromFamilies(parsePrometheusTextFormat(`${lines.join("\n")}\n`), names);
  } catch {
    samples = [];
    for (const line of lines) {
      if (samples.length >= maxSamples) break;
      samples.push(...parseSampleLine(line));
    }
  }
  return samples.length > maxSamples ? samples.slice(0, maxSamples) : samples;
}

/** The samples on one line (none for a comment, a blank or a broken line). */
export function parseSampleLine(line: string): PromSample[] {
  const trimmed = line.trim();
  if (trimmed === "" || trimmed.startsWith("#")) return [];
  try {
    return fromFamilies(parsePrometheusTextFormat(`${trimmed}\n`), undefined);
  } catch {
    return [];
  }
}

/** The metric a line is about: a sample's name, or the name after `# HELP`/`# TYPE`. */
function lineMetricName(line: string): string | undefined {
  const t = line.trim();
  const meta = /^#\s+(?:HELP|TYPE)\s+(\S+)/.exec(t);
  if (meta) return meta[1];
  if (t.startsWith("#")) return undefined;
  return /^[^\s{]+/.exec(t)?.[0];
}

function fromFamilies(families: ReturnType<typeof parsePrometheusTextFormat>, names: ReadonlySet<string> | undefined): PromSample[] {
  const out: PromSample[] = [];
  for (const f of families) {
    if (names !== undefined && !names.has(f.name)) continue;
    for (const m of f.metrics) {
      // Histogram and summary families come back folded (buckets, quantiles); only plain samples are wanted.
      if (typeof m.value !== "string") continue;
      const value = parseValue(m.value);
      if (value === undefined) continue;
      out.push({ name: f.name, labels: { ...(m.labels ?? {}) }, value });
    }
  }
  return out;
}

function parseValue(s: string): number | undefined {
  switch (s) {
    case "NaN":
      return Number.NaN;
    case "+Inf":
    case "Inf":
      return Number.POSITIVE_INFINITY;
    case "-Inf":
      return Number.NEGATIVE_INFINITY;
  }
  if (!/^[-+]?(\d+\.?\d*|\.\d+)([eE][-+]?\d+)?$/.test(s)) return undefined;
  return Number(s);
}

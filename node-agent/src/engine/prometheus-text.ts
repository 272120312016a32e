/** One sample of the Prometheus text exposition format. */
export interface PromSample {
  name: string;
  labels: Readonly<Record<string, string>>;
  value: number;
}

const NAME = /^[a-zA-Z_:][a-zA-Z0-9_:]*/;
const LABEL_NAME = /^[a-zA-Z_][a-zA-Z0-9_]*/;

/**
 * Parses the Prometheus text format tolerantly: comments, blank lines and any line
 * that does not parse are skipped, so one odd line never hides the rest. At most
 * `maxSamples` samples are kept, to bound the memory a hostile body can cost.
 */
export function parsePrometheusText(text: string, maxSamples = 100_000): PromSample[] {
  const out: PromSample[] = [];
  for (const raw of text.split("\n")) {
    if (out.length >= maxSamples) break;
    const line = raw.trim();
    if (line === "" || line.startsWith("#")) continue;
    const sample = parseSampleLine(line);
    if (sample) out.push(sample);
  }
  return out;
}

/** `name{label="value",...} value [timestamp]`, or undefined when the line is not that. */
export function parseSampleLine(line: string): PromSample | undefined {
  const name = NAME.exec(line)?.[0];
  if (!name) return undefined;
  let rest = line.slice(name.length);
  const labels: Record<string, string> = {};
  if (rest.startsWith("{")) {
    const parsed = parseLabels(rest);
    if (!parsed) return undefined;
    Object.assign(labels, parsed.labels);
    rest = rest.slice(parsed.length);
  }
  const fields = rest.trim().split(/\s+/);
  if (fields.length < 1 || fields.length > 2 || fields[0] === undefined || fields[0] === "") return undefined;
  const value = parseValue(fields[0]);
  if (value === undefined) return undefined;
  return { name, labels, value };
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

/** Parses `{a="x",b="y"}` at the start of `s`; returns the labels and how many characters they took. */
function parseLabels(s: string): { labels: Record<string, string>; length: number } | undefined {
  const labels: Record<string, string> = {};
  let i = 1;
  for (;;) {
    while (s[i] === " ") i++;
    if (s[i] === "}") return { labels, length: i + 1 };
    const name = LABEL_NAME.exec(s.slice(i))?.[0];
    if (!name) return undefined;
    i += name.length;
    while (s[i] === " ") i++;
    if (s[i] !== "=") return undefined;
    i++;
    while (s[i] === " ") i++;
    if (s[i] !== '"') return undefined;
    i++;
    let value = "";
    for (;;) {
      const c = s[i];
      if (c === undefined) return undefined;
      if (c === '"') break;
      if (c === "\\") {
        const next = s[i + 1];
        if (next === undefined) return undefined;
        value += next === "n" ? "\n" : next;
        i += 2;
        continue;
      }
      value += c;
      i++;
    }
    i++;
    labels[name] = value;
    while (s[i] === " ") i++;
    if (s[i] === ",") i++;
    else if (s[i] !== "}") return undefined;
  }
}

/** What a dashboard JSON model asks Prometheus: its panels' targets and its query variables. */

export interface PanelQuery {
  panel: string;
  refId: string;
  expr: string;
}

export interface VariableQuery {
  name: string;
  /** `label_values(metric, label)` or `label_values(label)`, Grafana's Prometheus variable syntax. */
  query: string;
}

interface PanelLike {
  title?: string;
  type?: string;
  targets?: { expr?: string; refId?: string }[];
  panels?: PanelLike[];
}

interface DashboardLike {
  panels?: PanelLike[];
  templating?: { list?: { type?: string; name?: string; query?: string | { query?: string } }[] };
}

/** Every target with an expression, in rows (collapsed rows hold theirs) too. */
export function panelQueries(dashboard: DashboardLike): PanelQuery[] {
  const out: PanelQuery[] = [];
  const walk = (panels: readonly PanelLike[] | undefined) => {
    for (const p of panels ?? []) {
      for (const t of p.targets ?? []) if (t.expr) out.push({ panel: p.title ?? "(untitled)", refId: t.refId ?? "A", expr: t.expr });
      walk(p.panels);
    }
  };
  walk(dashboard.panels);
  return out;
}

export function variableQueries(dashboard: DashboardLike): VariableQuery[] {
  return (dashboard.templating?.list ?? [])
    .filter((v) => v.type === "query")
    .map((v) => ({ name: v.name ?? "", query: typeof v.query === "string" ? v.query : (v.query?.query ?? "") }));
}

/** `label_values(metric{...}, label)` → its parts; `label_values(label)` has no selector. */
export function parseLabelValues(query: string): { selector: string | undefined; label: string } {
  const m = /^\s*label_values\(\s*(?:(.*\S)\s*,\s*)?([a-zA-Z_][a-zA-Z0-9_]*)\s*\)\s*$/s.exec(query);
  if (!m) throw new Error(`not a label_values() query: ${query}`);
  return { selector: m[1], label: m[2]! };
}

/**
 * A query as Grafana sends it: each `$var` / `${var}` replaced by its values, a multi-value
 * one as the regex alternation `(a|b)` Grafana uses for `=~`, and the built-in intervals.
 */
export function substitute(expr: string, values: Readonly<Record<string, readonly string[]>>, rateInterval: string): string {
  return expr.replace(/\$(?:\{(\w+)\}|(\w+))/g, (whole, braced: string | undefined, bare: string | undefined) => {
    const name = (braced ?? bare)!;
    if (name === "__rate_interval" || name === "__interval" || name === "__range") return rateInterval;
    const v = values[name];
    if (v === undefined) throw new Error(`no value for $${name} in ${expr}`);
    return v.length === 1 ? regexEscape(v[0]!) : `(${v.map(regexEscape).join("|")})`;
  });
}

function regexEscape(s: string): string {
  return s.replace(/[.*+?^${}()|[\]\\]/g, "\\\\$&");
}

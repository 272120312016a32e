import type * as cog from "@grafana/grafana-foundation-sdk/cog";
import {
  DatasourceVariableBuilder,
  MappingType,
  QueryVariableBuilder,
  VariableRefresh,
  VariableSort,
  type Panel,
  type ValueMapping,
} from "@grafana/grafana-foundation-sdk/dashboard";
import { DataqueryBuilder } from "@grafana/grafana-foundation-sdk/prometheus";
import { PanelBuilder as StatPanel } from "@grafana/grafana-foundation-sdk/stat";
import { PanelBuilder as StateTimelinePanel } from "@grafana/grafana-foundation-sdk/statetimeline";
import { PanelBuilder as TimeseriesPanel } from "@grafana/grafana-foundation-sdk/timeseries";
import { LegendDisplayMode, LegendPlacement } from "@grafana/grafana-foundation-sdk/common";
import { VizLegendOptionsBuilder } from "@grafana/grafana-foundation-sdk/common";

/** Every panel and variable queries the Prometheus the dashboard's `datasource` variable picks. */
export const PROMETHEUS = { type: "prometheus", uid: "${datasource}" };

export const datasourceVariable = () => new DatasourceVariableBuilder("datasource").label("Prometheus").type("prometheus");

/**
 * A multi-value label variable (`label_values(metric, label)`), "All" by default. Grafana
 * substitutes a multi-value variable as a regex alternation, so queries match it with `=~`.
 */
export const labelVariable = (name: string, query: string, label = name) =>
  new QueryVariableBuilder(name)
    .label(label)
    .datasource(PROMETHEUS)
    .query(query)
    .definition(query)
    .refresh(VariableRefresh.OnTimeRangeChanged)
    .sort(VariableSort.NaturalAsc)
    .multi(true)
    .includeAll(true)
    .allValue(".*");

export interface Query {
  expr: string;
  legend: string;
}

export const q = (expr: string, legend = ""): Query => ({ expr, legend });

function targets<B extends { withTarget(t: cog.Builder<cog.Dataquery>): B; datasource(d: typeof PROMETHEUS): B }>(panel: B, queries: readonly Query[]): B {
  panel.datasource(PROMETHEUS);
  queries.forEach((query, i) => {
    panel.withTarget(new DataqueryBuilder().expr(query.expr).legendFormat(query.legend || "__auto").refId(String.fromCharCode(65 + i)));
  });
  return panel;
}

const legend = () => new VizLegendOptionsBuilder().showLegend(true).displayMode(LegendDisplayMode.List).placement(LegendPlacement.Bottom).calcs([]);

export interface PanelOptions {
  description: string;
  unit?: string;
  min?: number;
  max?: number;
  /** Grid width out of 24. */
  span?: number;
  height?: number;
}

export function timeseries(title: string, o: PanelOptions, ...queries: Query[]): cog.Builder<Panel> {
  const p = new TimeseriesPanel().title(title).description(o.description).span(o.span ?? 12).height(o.height ?? 8).legend(legend()).fillOpacity(10);
  if (o.unit !== undefined) p.unit(o.unit);
  if (o.min !== undefined) p.min(o.min);
  if (o.max !== undefined) p.max(o.max);
  return targets(p, queries);
}

export function stat(title: string, o: PanelOptions, ...queries: Query[]): cog.Builder<Panel> {
  const p = new StatPanel().title(title).description(o.description).span(o.span ?? 6).height(o.height ?? 4);
  if (o.unit !== undefined) p.unit(o.unit);
  return targets(p, queries);
}

/** A value → text and colour mapping, for state timelines of numeric states. */
export const states = (entries: readonly [value: number, text: string, color: string][]): ValueMapping[] => [
  {
    type: MappingType.ValueToText,
    options: Object.fromEntries(entries.map(([value, text, color], index) => [String(value), { text, color, index }])),
  },
];

export function stateTimeline(title: string, o: PanelOptions & { mappings: ValueMapping[] }, ...queries: Query[]): cog.Builder<Panel> {
  const p = new StateTimelinePanel().title(title).description(o.description).span(o.span ?? 12).height(o.height ?? 8).mappings(o.mappings);
  return targets(p, queries);
}

/** Prometheus label matchers for the dashboard variables named (`region=~"$region", node=~"$node"`). */
export const matchers = (...vars: string[]) => vars.map((v) => `${v}=~"$${v}"`).join(", ");

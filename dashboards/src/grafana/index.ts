import type { Dashboard } from "@grafana/grafana-foundation-sdk/dashboard";
import { gatewayDashboard } from "./gateway.js";
import { gpuFleetDashboard } from "./gpu-fleet.js";
import { schedulerDashboard } from "./scheduler.js";

/** Every dashboard and the file (under dashboards/grafana/) its JSON model is committed in. */
export const DASHBOARDS: readonly { file: string; build: () => Dashboard }[] = [
  { file: "gpu-fleet.json", build: gpuFleetDashboard },
  { file: "gateway.json", build: gatewayDashboard },
  { file: "scheduler.json", build: schedulerDashboard },
];

/**
 * The JSON model as Grafana imports it. Panels get stable ids in layout order, so links to a
 * panel (`viewPanel=`) survive regeneration.
 */
export function dashboardJson(d: Dashboard): string {
  // Through JSON: the builders leave functions on the model that JSON drops.
  const model = JSON.parse(JSON.stringify(d)) as Dashboard & { panels?: { id?: number }[] };
  (model.panels ?? []).forEach((p, i) => (p.id = i + 1));
  return JSON.stringify(model, null, 2) + "\n";
}

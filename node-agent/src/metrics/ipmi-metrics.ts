import type { BmcSensor, BmcSensorKind, BmcStatus } from "@enclave/contracts";
import { Gauge, type Registry } from "prom-client";
import { entityType } from "../bmc/sensor-table.js";
import type { NodeLabels } from "./dcgm-metrics.js";

/** Per sensor kind, the metric pair of the Prometheus IPMI exporter: the reading and its `_state` twin. */
const BY_KIND: Partial<Record<BmcSensorKind, { value: string; valueHelp: string; state: string; stateHelp: string }>> = {
  temperature: {
    value: "ipmi_temperature_celsius",
    valueHelp: "Temperature reading in degree Celsius.",
    state: "ipmi_temperature_state",
    stateHelp: "Reported state of a temperature sensor (0=nominal, 1=warning, 2=critical).",
  },
  fan: { value: "ipmi_fan_speed_rpm", valueHelp: "Fan speed in rotations per minute.", state: "ipmi_fan_speed_state", stateHelp: "Reported state of a fan speed sensor (0=nominal, 1=warning, 2=critical)." },
  voltage: { value: "ipmi_voltage_volts", valueHelp: "Voltage reading in Volts.", state: "ipmi_voltage_state", stateHelp: "Reported state of a voltage sensor (0=nominal, 1=warning, 2=critical)." },
  power: { value: "ipmi_power_watts", valueHelp: "Power reading in Watts.", state: "ipmi_power_state", stateHelp: "Reported state of a power sensor (0=nominal, 1=warning, 2=critical)." },
  current: { value: "ipmi_current_amperes", valueHelp: "Current reading in Amperes.", state: "ipmi_current_state", stateHelp: "Reported state of a current sensor (0=nominal, 1=warning, 2=critical)." },
};

const STATE_VALUE = { nominal: 0, warning: 1, critical: 2 } as const;

/**
 * The node's BMC under the Prometheus IPMI exporter's names, so its dashboards and alerts
 * work unchanged. Sensors without a reading (scanning disabled, absent parts) are left out,
 * as the exporter does; discrete sensors appear as `ipmi_sensor_value` NaN with their state.
 * `id` is the sensor number, `type` is named from the sensor's SDR entity.
 */
export function registerIpmiMetrics(registry: Registry, labels: Pick<NodeLabels, "node" | "region">, bmc: () => BmcStatus | undefined): void {
  const sensors = () => {
    const b = bmc();
    return b?.available ? b.sensors.filter((s) => s.state !== "unavailable") : [];
  };
  const l = (s: BmcSensor) => ({ id: String(parseInt(s.id, 16) || 0), name: s.name, node: labels.node, region: labels.region });

  for (const [kind, m] of Object.entries(BY_KIND) as [BmcSensorKind, NonNullable<(typeof BY_KIND)[BmcSensorKind]>][]) {
    gauge(registry, m.value, m.valueHelp, ["id", "name", "node", "region"], (set) => {
      for (const s of sensors()) if (s.kind === kind && s.value !== null) set(l(s), s.value);
    });
    gauge(registry, m.state, m.stateHelp, ["id", "name", "node", "region"], (set) => {
      for (const s of sensors()) if (s.kind === kind && s.value !== null && s.state !== "unavailable") set(l(s), STATE_VALUE[s.state]);
    });
  }
  const generic = (s: BmcSensor) => !BY_KIND[s.kind] || s.value === null;
  gauge(registry, "ipmi_sensor_value", "Generic data read from an IPMI sensor of unknown type, relying on labels for context.", ["id", "name", "type", "node", "region"], (set) => {
    for (const s of sensors()) if (generic(s)) set({ ...l(s), type: entityType(s.entity) }, s.value ?? Number.NaN);
  });
  gauge(registry, "ipmi_sensor_state", "Indicates the severity of the state reported by an IPMI sensor (0=nominal, 1=warning, 2=critical).", ["id", "name", "type", "node", "region"], (set) => {
    for (const s of sensors()) if (generic(s) && s.state !== "unavailable") set({ ...l(s), type: entityType(s.entity) }, STATE_VALUE[s.state]);
  });
  gauge(registry, "ipmi_chassis_power_state", "Current power state (1=on, 0=off).", ["node", "region"], (set) => {
    const b = bmc();
    if (b?.available && b.powerOn !== null) set({ node: labels.node, region: labels.region }, b.powerOn ? 1 : 0);
  });
  gauge(registry, "ipmi_sel_logs_count", "Current number of log entries in the SEL.", ["node", "region"], (set) => {
    const b = bmc();
    if (b?.available && b.selCount !== null) set({ node: labels.node, region: labels.region }, b.selCount);
  });
  gauge(registry, "ipmi_up", "'1' if a scrape of the IPMI device was successful, '0' otherwise.", ["collector", "node", "region"], (set) => {
    const b = bmc();
    if (b) set({ collector: "ipmi", node: labels.node, region: labels.region }, b.available ? 1 : 0);
  });
}

function gauge<L extends string>(registry: Registry, name: string, help: string, labelNames: readonly L[], fill: (set: (l: Record<L, string>, v: number) => void) => void): void {
  new Gauge({
    name,
    help,
    labelNames,
    registers: [registry],
    collect() {
      this.reset();
      fill((l, v) => this.set(l, v));
    },
  });
}

import { z } from "zod";
import { Backend } from "./backend.js";
import { Id, Jurisdiction, Region } from "./common.js";
import { GpuTelemetry, Health } from "./gpu.js";

/** How bad a BMC sensor reading is, in the Prometheus IPMI exporter's terms (its `_state` metrics: 0, 1, 2). */
export const BmcSensorState = z.enum(["nominal", "warning", "critical", "unavailable"]);
export type BmcSensorState = z.infer<typeof BmcSensorState>;

export const BmcSensorKind = z.enum(["temperature", "fan", "voltage", "power", "current", "discrete", "other"]);
export type BmcSensorKind = z.infer<typeof BmcSensorKind>;

/** One sensor from the BMC's SDR (`ipmitool sdr elist`). */
export const BmcSensor = z.object({
  name: z.string().max(64),
  /** Sensor number, as ipmitool prints it (`03h`). */
  id: z.string().max(8),
  kind: BmcSensorKind,
  /** SDR entity id.instance (`10.2` is the second power supply); empty when the table had none. */
  entity: z.string().max(16),
  /** The reading in `unit`; null for discrete sensors and sensors without a reading. */
  value: z.number().nullable(),
  unit: z.string().max(32).nullable(),
  /** ipmitool's status column: `ok`, `ns`, `nc`, `cr`, `nr`, `lnc`, `ucr`, ... */
  status: z.string().max(8),
  state: BmcSensorState,
  /** Discrete state text (`Presence detected, Failure detected`), empty when there is none. */
  text: z.string().max(200),
});
export type BmcSensor = z.infer<typeof BmcSensor>;

/** One System Event Log record. `time`: ms since epoch, null before the BMC clock was set (`Pre-Init`). */
export const SelEvent = z.object({
  id: z.number().int().nonnegative(),
  time: z.number().int().nullable(),
  sensor: z.string().max(100),
  event: z.string().max(200),
  asserted: z.boolean(),
  severity: z.enum(["info", "warning", "critical"]),
});
export type SelEvent = z.infer<typeof SelEvent>;

/** The node's BMC as last read over IPMI. */
export const BmcStatus = z.object({
  available: z.boolean(),
  /** Why the BMC could not be read (no local interface, no answer, wrong credentials, ...). */
  reason: z.string().max(500).optional(),
  /** When it was last read successfully, ms since epoch. */
  time: z.number().int().nullable(),
  powerOn: z.boolean().nullable(),
  sensors: z.array(BmcSensor).max(256),
  selCount: z.number().int().nonnegative().nullable(),
  /** The most recent SEL records, oldest first. */
  selEvents: z.array(SelEvent).max(32),
});
export type BmcStatus = z.infer<typeof BmcStatus>;

export const HostStats = z.object({
  cpuCount: z.number().int().nonnegative().nullable(),
  /** Share of all CPUs busy since the previous reading, 0..100. */
  cpuLoadPct: z.number().min(0).max(100).nullable(),
  load1: z.number().nonnegative().nullable(),
  load5: z.number().nonnegative().nullable(),
  load15: z.number().nonnegative().nullable(),
  memoryTotalBytes: z.number().nonnegative().nullable(),
  /** Memory in use, not counting reclaimable cache. */
  memoryUsedBytes: z.number().nonnegative().nullable(),
  disks: z.array(z.object({ mount: z.string().max(256), sizeBytes: z.number().nonnegative(), usedBytes: z.number().nonnegative() })).max(32),
});
export type HostStats = z.infer<typeof HostStats>;

/** What an agent sends the scheduler on every heartbeat: metadata only, never prompts. */
export const NodeReport = z.object({
  nodeId: Id,
  region: Region,
  jurisdiction: Jurisdiction,
  /** Agent clock, ms since epoch. */
  time: z.number().int(),
  agentVersion: z.string().max(50),
  health: Health,
  gpus: z.array(GpuTelemetry).max(64),
  backends: z.array(Backend).max(256),
  /** Absent when the agent has no BMC configured (and from older agents). */
  bmc: BmcStatus.optional(),
  host: HostStats.optional(),
});
export type NodeReport = z.infer<typeof NodeReport>;

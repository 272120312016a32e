import { z } from "zod";
import { Backend } from "./backend.js";
import { Id, Jurisdiction, Region } from "./common.js";
import { GpuTelemetry, Health } from "./gpu.js";

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
});
export type NodeReport = z.infer<typeof NodeReport>;

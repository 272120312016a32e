import { z } from "zod";
import { BackendLoad } from "./backend.js";
import { Engine, HttpUrl, Id, Jurisdiction, ModelName, Region } from "./common.js";

/** A ready backend as gateways see it. */
export const RouteEntry = z.object({
  backendId: z.string().min(1),
  nodeId: Id,
  model: ModelName,
  engine: Engine,
  region: Region,
  jurisdiction: Jurisdiction,
  url: HttpUrl,
  load: BackendLoad.nullable(),
  /**
   * Optional, for schedulers that publish more than ready backends: gateways route only
   * to `ready` backends (absent = ready) on nodes that are not `draining` or `failed`.
   */
  state: z.enum(["ready", "starting", "stopping", "failed"]).optional(),
  nodeState: z.enum(["ready", "draining", "failed"]).optional(),
});
export type RouteEntry = z.infer<typeof RouteEntry>;

/** A deployed model and the regions it is meant to run in (served or not right now). */
export const RouteModel = z.object({
  name: ModelName,
  regions: z.array(Region),
});
export type RouteModel = z.infer<typeof RouteModel>;

/**
 * Versioned: the version only grows, and gateways keep the newest they saw.
 * Contains only ready backends on live nodes.
 */
export const RouteTable = z.object({
  version: z.number().int().nonnegative(),
  generatedAt: z.number().int(),
  models: z.array(RouteModel),
  entries: z.array(RouteEntry),
});
export type RouteTable = z.infer<typeof RouteTable>;

export const EMPTY_ROUTE_TABLE: RouteTable = { version: 0, generatedAt: 0, models: [], entries: [] };

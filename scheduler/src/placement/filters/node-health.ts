import type { FilterPlugin } from "../types.js";

/** A failed node, or one whose state nobody knows, takes no new work; degraded is only a warning. */
export const nodeHealthFilter: FilterPlugin = {
  name: "node-health",
  filter: (_ctx, node) =>
    node.health.state === "failed" || node.health.state === "unknown"
      ? { ok: false, reason: `node health ${node.health.state}` }
      : { ok: true },
};

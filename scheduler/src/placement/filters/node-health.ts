import type { FilterPlugin } from "../types.js";

/**
 * A node takes new replicas when it is ready: not cordoned by an operator, and its health
 * known and not failed. Degraded is only a warning (its bad GPUs are skipped one by one).
 */
export const nodeHealthFilter: FilterPlugin = {
  name: "node-health",
  filter: (ctx, node) => {
    if (ctx.cordoned.has(node.nodeId)) return { ok: false, reason: "node cordoned" };
    return node.health.state === "failed" || node.health.state === "unknown"
      ? { ok: false, reason: `node health ${node.health.state}` }
      : { ok: true };
  },
};

import { nodeIdMatches } from "../node-pattern.js";
import type { FilterPlugin } from "../types.js";

/** `selectors.nodes`: only nodes whose id matches one of the deployment's patterns. */
export const nodeSelectorFilter: FilterPlugin = {
  name: "node-selector",
  filter: (ctx, node) =>
    nodeIdMatches(ctx.deployment.selectors?.nodes, node.nodeId) ? { ok: true } : { ok: false, reason: "not selected by selectors.nodes" },
};

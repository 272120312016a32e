import type { ScorePlugin } from "../types.js";

/** Spread: score = −(replicas of this deployment already on the node), so one node's loss costs few replicas. */
export const spreadScore: ScorePlugin = {
  name: "spread",
  score: (ctx, node) => -(ctx.replicasByNode.get(node.nodeId) ?? 0),
};

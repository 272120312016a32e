import type { ScorePlugin } from "../types.js";

/** Least-allocated: score = free GPUs left after placing, so load spreads over the emptiest nodes. */
export const leastAllocatedScore: ScorePlugin = {
  name: "least-allocated",
  score: (ctx, _node, free) => free.length - ctx.deployment.gpusPerReplica,
};

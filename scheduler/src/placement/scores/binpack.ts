import type { ScorePlugin } from "../types.js";

/** Bin-pack: score = −(free GPUs left after placing), so whole nodes stay free for large replicas. */
export const binpackScore: ScorePlugin = {
  name: "binpack",
  score: (ctx, _node, free) => -(free.length - ctx.deployment.gpusPerReplica),
};

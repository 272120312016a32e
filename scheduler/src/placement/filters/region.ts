import type { FilterPlugin } from "../types.js";

/** Residency is hard: a replica of a region runs only on a node of that region, never elsewhere. */
export const regionFilter: FilterPlugin = {
  name: "region",
  filter: (ctx, node) => (node.region === ctx.region ? { ok: true } : { ok: false, reason: "in another region" }),
};

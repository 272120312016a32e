import type { FilterPlugin } from "../types.js";

/** A deployment bound to a jurisdiction runs only on hardware operated under that law. */
export const jurisdictionFilter: FilterPlugin = {
  name: "jurisdiction",
  filter: (ctx, node) => {
    const want = ctx.deployment.jurisdiction;
    return want === undefined || node.jurisdiction === want
      ? { ok: true }
      : { ok: false, reason: `wrong jurisdiction (need ${want})` };
  },
};

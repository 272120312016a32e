import type { BenchPart } from "./part.js";

/** Every benchmark part, in the order `npm run bench` runs them. Add a part here. */
export const PARTS: BenchPart[] = [];

import { z } from "zod";

/** Where processing happens, e.g. `eu-central-1`. */
export const Region = z.string().regex(/^[a-z0-9]+(?:-[a-z0-9]+)*$/, "a region id such as eu-central-1");
export type Region = z.infer<typeof Region>;

/** Whose law governs the operator of the hardware, e.g. `EU`, `US`. */
export const Jurisdiction = z.string().regex(/^[A-Z]{2,8}$/, "an upper-case jurisdiction code such as EU or US");
export type Jurisdiction = z.infer<typeof Jurisdiction>;

/** Ids of nodes, deployments and tenants: safe in Redis keys, queue names, URLs and labels. */
export const Id = z.string().regex(/^[A-Za-z0-9][A-Za-z0-9._-]{0,62}$/, "1-63 characters of letters, digits, '.', '_' or '-', starting with a letter or digit");
export type Id = z.infer<typeof Id>;

/** A model name as served by an engine (`org/model`, `llama-3.1-8b`). */
export const ModelName = z.string().min(1).max(200).regex(/^[\w.\-/:]+$/, "a model name of letters, digits and . _ - / :");
export type ModelName = z.infer<typeof ModelName>;

export const Engine = z.enum(["vllm", "sglang"]);
export type Engine = z.infer<typeof Engine>;

export const HttpUrl = z.url({ protocol: /^https?$/ });

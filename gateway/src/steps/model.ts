import type { RouteTable, Tenant } from "@enclave/contracts";
import { modelNotFound, type StepResult } from "../errors.js";
import { modelMatcher } from "../policy/model-glob.js";

/** May this tenant use `model` (names and globs), and is it deployed at all? Both failures answer alike. */
export function checkModel(model: string, tenant: Tenant, table: RouteTable): StepResult<string> {
  const allowed = modelMatcher(tenant.models)(model);
  const known = allowed && (table.models.some((m) => m.name === model) || table.entries.some((e) => e.model === model));
  return allowed && known ? { ok: true, value: model } : { ok: false, error: modelNotFound(model) };
}

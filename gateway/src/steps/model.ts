import type { RouteTable, Tenant } from "@enclave/contracts";
import { modelNotFound, type StepResult } from "../errors.js";

/** May this tenant use `model`, and is it deployed at all? Both failures answer alike. */
export function checkModel(model: string, tenant: Tenant, table: RouteTable): StepResult<string> {
  const allowed = tenant.models === undefined || tenant.models.includes(model);
  const known = table.models.some((m) => m.name === model) || table.entries.some((e) => e.model === model);
  return allowed && known ? { ok: true, value: model } : { ok: false, error: modelNotFound(model) };
}

import { Deployment, Id, type DeleteResult, type DeploymentRecord, type DeploymentStatus, type DeploymentStatusList, type DeploymentView } from "@enclave/contracts";
import type { Logger } from "@enclave/runtime";
import type { FastifyInstance } from "fastify";
import type { OperatorAudit } from "../audit/operator-audit.js";
import { MAX_DEPLOYMENTS, type DeploymentStore } from "../deployments/deployment-store.js";
import type { StatusStore } from "../reconcile/status-store.js";
import { requireAuth, type Authenticator } from "./auth.js";
import { describeIssues } from "./describe-issues.js";
import { sendError } from "./errors.js";
import { auditDenied, runOperatorAction } from "./operator-action.js";

/** A deployment spec is small; anything near this is a mistake or an attack. */
export const DEPLOYMENT_BODY_LIMIT = 256 * 1024;

export interface DeploymentApiDeps {
  auth: Authenticator;
  deployments: DeploymentStore;
  status: StatusStore;
  audit: OperatorAudit | undefined;
  log: Logger;
  /** A deployment was created, changed or deleted. */
  onChange(): void;
}

type NameParams = { Params: { name: string } };

/**
 * `GET /v1/deployments[/:name]` (viewers): specs with their generation and status per region.
 * `PUT /v1/deployments/:name` and `DELETE` (operators, audited): desired state in Redis.
 */
export function registerDeploymentApi(app: FastifyInstance, deps: DeploymentApiDeps): void {
  const read = requireAuth(deps.auth, { kind: "read" });
  const unavailable = (what: string, e: unknown) => {
    deps.log.warn({ err: { message: (e as Error).message } }, `could not read ${what}`);
  };

  app.get("/v1/deployments", { onRequest: read }, async (_req, reply) => {
    try {
      const [set, status] = await Promise.all([deps.deployments.all(), deps.status.get()]);
      const byName = new Map(status?.deployments.map((d) => [d.name, d]));
      const list: DeploymentStatusList = {
        updatedAt: status?.updatedAt ?? 0,
        deployments: [...set.records.values()].map((r) => currentStatus(r, byName.get(r.spec.name))),
      };
      return list;
    } catch (e) {
      unavailable("deployments", e);
      return sendError(reply, 503, "unavailable", "deployment status is unavailable; retry later");
    }
  });

  app.get<NameParams>("/v1/deployments/:name", { onRequest: read }, async (req, reply) => {
    if (!Id.safeParse(req.params.name).success) return sendError(reply, 400, "invalid_request", "a deployment name is 1-63 letters, digits, '.', '_' or '-'");
    try {
      const [record, status] = await Promise.all([deps.deployments.get(req.params.name), deps.status.get()]);
      if (record === null) return sendError(reply, 404, "not_found", `no deployment "${req.params.name}"`);
      const view: DeploymentView = { ...record, status: currentStatus(record, status?.deployments.find((d) => d.name === record.spec.name)) };
      return view;
    } catch (e) {
      unavailable("a deployment", e);
      return sendError(reply, 503, "unavailable", "deployments are unavailable; retry later");
    }
  });

  app.put<NameParams>("/v1/deployments/:name", {
    bodyLimit: DEPLOYMENT_BODY_LIMIT,
    onRequest: requireAuth(deps.auth, { kind: "operate" }, auditDenied(deps, () => ({ action: "deployment.apply" }))),
    handler: async (req, reply) => {
      const raw = req.body;
      const spec = parseSpec(req.params.name, raw);
      const what = {
        action: "deployment.apply" as const,
        model: spec.ok ? spec.deployment.model : null,
        regions: spec.ok ? Object.keys(spec.deployment.replicasPerRegion).sort() : [],
        body: JSON.stringify(raw ?? null),
      };
      return runOperatorAction(deps, req, reply, what, async () => {
        if (!spec.ok) return { status: 400, code: "invalid_request", reason: spec.message };
        const r = await deps.deployments.apply(spec.deployment, req.principal?.id ?? "unknown", Date.now());
        if (r.result === "full") return { status: 409, code: "conflict", reason: `too many deployments: at most ${MAX_DEPLOYMENTS}` };
        if (r.result === "exists") return { status: 409, code: "conflict", reason: `deployment "${r.name}" exists` };
        if (r.result !== "unchanged") deps.onChange();
        return { status: r.result === "created" ? 201 : 200, reason: `${r.result} ${r.name} at generation ${r.generation}`, body: r };
      });
    },
  });

  app.delete<NameParams>("/v1/deployments/:name", {
    onRequest: requireAuth(deps.auth, { kind: "operate" }, auditDenied(deps, () => ({ action: "deployment.delete" }))),
    handler: async (req, reply) => {
      const name = req.params.name;
      let model: string | null = null;
      let regions: string[] = [];
      const valid = Id.safeParse(name).success;
      if (valid) {
        try {
          const existing = await deps.deployments.get(name);
          model = existing?.spec.model ?? null;
          regions = existing ? Object.keys(existing.spec.replicasPerRegion).sort() : [];
        } catch {
          // The delete below meets the same outage and answers 503.
        }
      }
      return runOperatorAction(deps, req, reply, { action: "deployment.delete", model, regions }, async () => {
        if (!valid) return { status: 400, code: "invalid_request", reason: "a deployment name is 1-63 letters, digits, '.', '_' or '-'" };
        if (!(await deps.deployments.delete(name))) return { status: 404, code: "not_found", reason: `no deployment "${name}"` };
        deps.onChange();
        const body: DeleteResult = { name, deleted: true };
        return { status: 200, reason: `deleted ${name}; its replicas are stopped`, body };
      });
    },
  });
}

type ParsedSpec = { ok: true; deployment: Deployment } | { ok: false; message: string };

/** The body is the spec; its `name` may be left out, but if given must be the one in the path. */
export function parseSpec(pathName: string, body: unknown): ParsedSpec {
  if (!Id.safeParse(pathName).success) return { ok: false, message: "a deployment name is 1-63 letters, digits, '.', '_' or '-'" };
  if (body === null || typeof body !== "object" || Array.isArray(body)) return { ok: false, message: "invalid deployment: the body must be a JSON object" };
  const given = (body as { name?: unknown }).name;
  if (given !== undefined && given !== pathName) return { ok: false, message: `invalid deployment: name "${String(given).slice(0, 100)}" in the body of a request for "${pathName}"` };
  const parsed = Deployment.safeParse({ ...body, name: pathName });
  if (!parsed.success) return { ok: false, message: `invalid deployment: ${describeIssues(parsed.error.issues)}` };
  return { ok: true, deployment: parsed.data };
}

/** The last pass's status when it saw this generation; otherwise what it is until the next pass. */
function currentStatus(r: DeploymentRecord, seen: DeploymentStatus | undefined): DeploymentStatus {
  if (seen !== undefined && (seen.generation === undefined || seen.generation === r.generation)) return { ...seen, generation: r.generation };
  return {
    name: r.spec.name,
    model: r.spec.model,
    generation: r.generation,
    regions: Object.keys(r.spec.replicasPerRegion)
      .sort()
      .map((region) => {
        const desired = r.spec.replicasPerRegion[region] ?? 0;
        return desired === 0
          ? { region, desired, ready: 0, state: "ready" as const, reason: "" }
          : { region, desired, ready: 0, state: "progressing" as const, reason: `waiting for the next reconcile pass (generation ${r.generation})` };
      }),
  };
}

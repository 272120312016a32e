import type { Deployment, DeploymentStatusList } from "@enclave/contracts";
import type { Logger, TokenSet } from "@enclave/runtime";
import type { FastifyInstance } from "fastify";
import type { StatusStore } from "../reconcile/status-store.js";
import { requireReader, type Principal } from "./auth.js";
import { sendError } from "./errors.js";

export interface DeploymentApiDeps {
  tokens: TokenSet<Principal>;
  status: StatusStore;
  deployments: readonly Deployment[];
  log: Logger;
}

/** `GET /v1/deployments`: per deployment and region, desired and ready replicas, state and why. */
export function registerDeploymentApi(app: FastifyInstance, deps: DeploymentApiDeps): void {
  app.get("/v1/deployments", { onRequest: requireReader(deps.tokens) }, async (_req, reply) => {
    try {
      return (await deps.status.get()) ?? beforeFirstPass(deps.deployments);
    } catch (e) {
      deps.log.warn({ err: { message: (e as Error).message } }, "could not read deployment status");
      return sendError(reply, 503, "unavailable", "deployment status is unavailable; retry later");
    }
  });
}

function beforeFirstPass(deployments: readonly Deployment[]): DeploymentStatusList {
  return {
    updatedAt: 0,
    deployments: deployments.map((d) => ({
      name: d.name,
      model: d.model,
      regions: Object.keys(d.replicasPerRegion)
        .sort()
        .map((region) => {
          const desired = d.replicasPerRegion[region] ?? 0;
          return desired === 0
            ? { region, desired, ready: 0, state: "ready" as const, reason: "" }
            : { region, desired, ready: 0, state: "progressing" as const, reason: "waiting for the first reconcile pass" };
        }),
    })),
  };
}

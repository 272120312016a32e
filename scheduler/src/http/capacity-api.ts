import type { CapacityReport } from "@enclave/contracts";
import type { Logger } from "@enclave/runtime";
import type { FastifyInstance } from "fastify";
import type { StatusStore } from "../reconcile/status-store.js";
import { requireAuth, type Authenticator } from "./auth.js";
import { sendError } from "./errors.js";

/** `GET /v1/capacity` (viewers): free GPUs and the N+1 check per region, as of the leader's last pass. */
export function registerCapacityApi(app: FastifyInstance, deps: { auth: Authenticator; status: StatusStore; log: Logger }): void {
  app.get("/v1/capacity", { onRequest: requireAuth(deps.auth, { kind: "read" }) }, async (_req, reply) => {
    try {
      const report: CapacityReport = (await deps.status.capacity()) ?? { updatedAt: 0, regions: [] };
      return report;
    } catch (e) {
      deps.log.warn({ err: { message: (e as Error).message } }, "could not read capacity");
      return sendError(reply, 503, "unavailable", "capacity is unavailable; retry later");
    }
  });
}

import { createHash } from "node:crypto";
import { AuditLog } from "@enclave/audit";
import type { SchedulerConfig } from "@enclave/contracts";

export type OperatorActionName = "deployment.apply" | "deployment.delete" | "node.drain" | "node.uncordon";

/** One operator action as the API saw it, accepted or refused. */
export interface OperatorAction {
  action: OperatorActionName;
  /** The operator token's id; null when the token was not recognised. */
  principal: string | null;
  /** What it names: a deployment's model, a node. */
  model?: string | null;
  regions?: readonly string[];
  region?: string | null;
  nodeId?: string | null;
  status: number;
  reason: string;
  latencyMs: number;
  /** The request body, hashed into the record (never stored). */
  body?: string | undefined;
}

/**
 * Operator actions in the same hash-chained record format the gateway writes: deploy, delete,
 * drain and uncordon, each with who did it, what it named and how it ended.
 */
export class OperatorAudit {
  private constructor(private readonly log: AuditLog) {}

  static async open(config: NonNullable<SchedulerConfig["audit"]>): Promise<OperatorAudit> {
    return new OperatorAudit(await AuditLog.open(config.file, config.emitter));
  }

  async record(a: OperatorAction): Promise<void> {
    await this.log.append({
      tenant: null,
      principal: a.principal,
      action: a.action,
      model: a.model ?? null,
      allowedRegions: [...(a.regions ?? [])],
      region: a.region ?? null,
      nodeId: a.nodeId ?? null,
      backendId: null,
      decision: "operator",
      reason: a.reason.slice(0, 2000),
      status: a.status,
      retries: 0,
      promptTokens: null,
      completionTokens: null,
      latencyMs: Math.max(0, a.latencyMs),
      bodySha256: a.body === undefined ? null : createHash("sha256").update(a.body).digest("hex"),
    });
  }

  close(): Promise<void> {
    return this.log.close();
  }
}

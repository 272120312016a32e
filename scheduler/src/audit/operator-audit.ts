import { createHash } from "node:crypto";
import { openAuditTrail, type Admission, type AuditLogger, type AuditTrail, type TrailStats } from "@enclave/audit";
import type { SchedulerAuditConfig } from "@enclave/contracts";

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
 * drain and uncordon, each with who did it, what it named and how it ended. They go to the
 * audit library's trail: a durable spool, one chain per region (a record naming a region goes
 * to that region's chain, the others to `homeRegion`'s), each shipped to its region's sink.
 */
export class OperatorAudit {
  private constructor(private readonly trail: AuditTrail) {}

  /** Opens the spool (recovering it) and starts shipping; a bad key or an unusable spool fails the start. */
  static async open(config: SchedulerAuditConfig, log: AuditLogger): Promise<OperatorAudit> {
    return new OperatorAudit(await openAuditTrail(config, { emitter: config.emitter, homeRegion: config.homeRegion, log }));
  }

  /** The action may go ahead (its record is sure to fit the spool's budget), or null: refuse it. */
  admit(): Admission | null {
    return this.trail.admit();
  }

  /** Resolves once the record is on disk; shipping follows. */
  async record(a: OperatorAction, admission?: Admission | null): Promise<void> {
    await this.trail.append(
      {
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
      },
      admission,
    );
  }

  stats(): TrailStats {
    return this.trail.stats();
  }

  /** Final checkpoints, a bounded drain to the sinks, then the spool closes (the rest ships on the next start). */
  close(): Promise<void> {
    return this.trail.close();
  }
}

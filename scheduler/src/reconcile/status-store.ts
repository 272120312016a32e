import { DeploymentStatusList } from "@enclave/contracts";
import type { Redis } from "ioredis";
import { keys } from "../redis-keys.js";
import { safeJson } from "../safe-json.js";

/** Deployment status as of the leader's last pass, readable by every scheduler replica. */
export class StatusStore {
  constructor(private readonly redis: Redis) {}

  async put(status: DeploymentStatusList): Promise<void> {
    await this.redis.set(keys.deploymentStatus, JSON.stringify(status));
  }

  /** null before the first pass (or after Redis lost it). */
  async get(): Promise<DeploymentStatusList | null> {
    const text = await this.redis.get(keys.deploymentStatus);
    if (text === null) return null;
    const parsed = DeploymentStatusList.safeParse(safeJson(text));
    return parsed.success ? parsed.data : null;
  }
}

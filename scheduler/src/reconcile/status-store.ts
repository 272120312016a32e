import { CapacityReport, DeploymentStatusList, DrainProgress } from "@enclave/contracts";
import type { Redis } from "ioredis";
import { keys } from "../redis-keys.js";
import { safeJson } from "../safe-json.js";

/** What the leader learnt in its last pass, readable by every scheduler replica. */
export class StatusStore {
  private lastDrain: string | undefined;

  constructor(private readonly redis: Redis) {}

  /** `capacity` undefined: unchanged since the last put. */
  async put(status: DeploymentStatusList, capacity: CapacityReport | undefined, drain: DrainProgress): Promise<void> {
    const tx = this.redis.multi().set(keys.deploymentStatus, JSON.stringify(status));
    if (capacity !== undefined) tx.set(keys.capacity, JSON.stringify(capacity));
    // Route refreshes read the drain progress on every run; it rarely changes, so it is written only when it does.
    const drainText = JSON.stringify(drain);
    if (drainText !== this.lastDrain) tx.set(keys.drainProgress, drainText);
    const res = await tx.exec();
    if (res?.every(([err]) => err === null)) this.lastDrain = drainText;
  }

  /** null before the first pass (or after Redis lost it). */
  async get(): Promise<DeploymentStatusList | null> {
    return this.read(keys.deploymentStatus, DeploymentStatusList);
  }

  async capacity(): Promise<CapacityReport | null> {
    return this.read(keys.capacity, CapacityReport);
  }

  async drainProgress(): Promise<DrainProgress> {
    return (await this.read(keys.drainProgress, DrainProgress)) ?? {};
  }

  private async read<T>(key: string, schema: { safeParse(v: unknown): { success: true; data: T } | { success: false } }): Promise<T | null> {
    const text = await this.redis.get(key);
    if (text === null) return null;
    const parsed = schema.safeParse(safeJson(text));
    return parsed.success ? parsed.data : null;
  }
}

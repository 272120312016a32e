import type { AgentConfig, BmcStatus, Health, HostStats } from "@enclave/contracts";
import type { Logger } from "@enclave/runtime";
import { BmcClient } from "../bmc/bmc-client.js";
import type { ConfiguredGpuSource } from "../gpu/create-gpu-source.js";
import { sampleGpus, type GpuSample } from "../gpu/gpu-source.js";
import { bmcFindings } from "../health/bmc-findings.js";
import { nodeHealth, type NodeFindings } from "../health/node-health.js";
import { HostStatsReader } from "../host/host-stats.js";
import type { NodeHardware } from "../report/node-report.js";
import { PollLoop } from "./poll-loop.js";

export interface HardwareMonitorOptions {
  config: Pick<AgentConfig, "bmc" | "health">;
  gpu: ConfiguredGpuSource;
  /** The lanplus BMC password, read from its secret. */
  bmcPassword?: string;
  log?: Logger;
  /** Test seams. */
  bmcLocalDevices?: readonly string[];
  hostIntervalMs?: number;
  now?: () => number;
}

/** Host statistics change slowly and `df` is not free. */
const HOST_INTERVAL_MS = 15_000;
/** A BMC that stays unreachable is asked ever less often, down to this. */
const BMC_MAX_BACKOFF_MS = 10 * 60_000;

/**
 * Every hardware collector of a node in one place: GPUs (nvidia-smi or simulated), the BMC,
 * host statistics. `refreshAll()` reads each once (what `enclave agent probe` runs);
 * `start()` keeps them fresh on their own intervals, each loop single-flight. `hardware()`
 * and `health()` give the latest readings as the heartbeat reports them.
 */
export class HardwareMonitor {
  private gpus: GpuSample = { ok: false, error: "not read yet" };
  private bmc: BmcStatus | undefined;
  private host: HostStats | undefined;
  private bmcFailures = 0;
  private lastBmcProblem: string | undefined;
  private lastGpuError: string | undefined;
  private readonly bmcClient: BmcClient | undefined;
  private readonly hostReader = new HostStatsReader();
  private readonly loops: PollLoop[] = [];
  private readonly now: () => number;

  constructor(private readonly o: HardwareMonitorOptions) {
    this.now = o.now ?? Date.now;
    const bmc = o.config.bmc;
    if (bmc.interface !== "none") {
      this.bmcClient = new BmcClient({
        config: bmc,
        ...(o.bmcPassword !== undefined ? { password: o.bmcPassword } : {}),
        ...(o.bmcLocalDevices ? { localDevices: o.bmcLocalDevices } : {}),
        now: this.now,
      });
    }
  }

  /** Reads every collector once, together. */
  async refreshAll(): Promise<void> {
    await Promise.all([this.refreshGpus(), this.refreshBmc(), this.refreshHost()]);
  }

  async refreshGpus(): Promise<void> {
    this.gpus = await sampleGpus(this.o.gpu.source, this.o.gpu.readBudgetMs);
    const error = this.gpus.ok ? undefined : this.gpus.error;
    // One line per change, not one per failed poll.
    if (error !== this.lastGpuError) {
      if (error) this.o.log?.warn({ err: error }, "cannot read GPUs");
      else if (this.lastGpuError) this.o.log?.info("GPUs readable again");
    }
    this.lastGpuError = error;
  }

  async refreshBmc(): Promise<void> {
    if (!this.bmcClient) return;
    const status = await this.bmcClient.read();
    this.bmc = status;
    const problem = status.available ? undefined : status.reason;
    this.bmcFailures = status.available ? 0 : this.bmcFailures + 1;
    if (problem !== this.lastBmcProblem) {
      if (problem) this.o.log?.warn({ err: problem }, "BMC unavailable; asking it less often until it answers");
      else this.o.log?.info("BMC answering");
    }
    this.lastBmcProblem = problem;
  }

  async refreshHost(): Promise<void> {
    this.host = await this.hostReader.read();
  }

  /**
   * Starts the polling loops; the BMC and host are read at once, the GPUs after one interval
   * (the caller read them before starting). GPUs read on each heartbeat (simulated ones) are
   * not polled here; the heartbeat calls `refreshGpus()`.
   */
  start(): void {
    const gpuInterval = this.o.gpu.pollIntervalMs;
    const gpuLoop = gpuInterval !== undefined ? new PollLoop(() => this.refreshGpus(), () => gpuInterval) : undefined;
    if (this.bmcClient) {
      const base = this.o.config.bmc.intervalMs;
      this.loops.push(new PollLoop(() => this.refreshBmc(), () => bmcPollDelayMs(base, this.bmcFailures)));
    }
    this.loops.push(new PollLoop(() => this.refreshHost(), () => this.o.hostIntervalMs ?? HOST_INTERVAL_MS));
    for (const l of this.loops) l.start();
    if (gpuLoop && gpuInterval !== undefined) {
      this.loops.push(gpuLoop);
      gpuLoop.start(gpuInterval);
    }
  }

  /** Whether the heartbeat should refresh the GPUs itself. */
  get gpusFollowHeartbeat(): boolean {
    return this.o.gpu.pollIntervalMs === undefined;
  }

  gpuSample(): GpuSample {
    return this.gpus;
  }

  bmcStatus(): BmcStatus | undefined {
    return this.bmc;
  }

  findings(): NodeFindings {
    return {
      gpuProblems: this.o.gpu.source.problems?.() ?? [],
      bmc: bmcFindings(this.bmc, this.o.config.health, this.now()),
    };
  }

  /** What the report carries besides the GPUs. */
  hardware(): NodeHardware {
    return { ...(this.bmc ? { bmc: this.bmc } : {}), ...(this.host ? { host: this.host } : {}), findings: this.findings() };
  }

  health(): Health {
    return nodeHealth(this.gpus, this.findings());
  }

  async close(): Promise<void> {
    await Promise.all(this.loops.splice(0).map((l) => l.stop()));
    this.o.gpu.close();
  }
}

/** The BMC's next read: its interval, doubled for each read in a row it did not answer, at most every 10 minutes. */
export function bmcPollDelayMs(intervalMs: number, failuresInARow: number): number {
  return Math.min(Math.max(intervalMs, BMC_MAX_BACKOFF_MS), intervalMs * 2 ** Math.min(failuresInARow, 16));
}

import { existsSync } from "node:fs";
import type { BmcConfig, BmcStatus } from "@enclave/contracts";
import { describeOutcome, ToolLane, type ToolOutcome } from "../host/run-tool.js";
import { parseChassisPower } from "./chassis.js";
import { ipmitoolArgs, LOCAL_IPMI_DEVICES } from "./ipmitool-args.js";
import { parseSelElist, parseSelInfoEntries } from "./sel.js";
import { parseSensorTable } from "./sensor-table.js";

export interface BmcClientOptions {
  config: BmcConfig;
  /** The lanplus password, already read from its secret. */
  password?: string;
  /** Where the `open` interface's device nodes are looked for (tests point elsewhere). */
  localDevices?: readonly string[];
  now?: () => number;
}

const MAX_OUTPUT_BYTES = 2 * 1024 * 1024;
/** SEL records carried in the report. */
const SEL_EVENTS = 32;

/**
 * The node's BMC through ipmitool: sensors (`sdr elist`), chassis power, and the System
 * Event Log. One ipmitool call at a time per BMC, since parallel SDR walks cancel each
 * other's reservations on real BMCs as on the simulator, and none while a killed one has
 * not exited (a stuck /dev/ipmi0 driver); every call has a deadline.
 * Failures are values: `read()` resolves with `available: false` and the reason.
 */
export class BmcClient {
  private readonly lane = new ToolLane("ipmitool");
  private readonly env: NodeJS.ProcessEnv | undefined;
  private readonly now: () => number;

  constructor(private readonly o: BmcClientOptions) {
    this.now = o.now ?? Date.now;
    this.env = o.password !== undefined ? { ...process.env, IPMI_PASSWORD: o.password } : undefined;
  }

  async read(): Promise<BmcStatus> {
    const c = this.o.config;
    if (c.interface === "none") return unavailable("no BMC configured (bmc.interface: none)");
    if (c.interface === "open" && !(this.o.localDevices ?? LOCAL_IPMI_DEVICES).some((d) => existsSync(d))) {
      return unavailable("no local IPMI device (/dev/ipmi0): load the ipmi_devintf and ipmi_si kernel modules, or read the BMC over lanplus");
    }
    const sdr = await this.ipmitool(["sdr", "elist"]);
    if (sdr.kind !== "exited" || sdr.code !== 0) return unavailable(this.describe(sdr));
    const sensors = parseSensorTable(sdr.stdout);
    if (sensors.length === 0) return unavailable(`ipmitool sdr elist listed no sensors${sdr.stderr.trim() ? `: ${sdr.stderr.trim().split("\n")[0]}` : ""}`);

    // What follows is worth having but not worth losing the sensors over.
    const chassis = await this.ipmitool(["chassis", "status"]);
    const info = await this.ipmitool(["sel", "info"]);
    const sel = await this.ipmitool(["sel", "elist", "last", String(SEL_EVENTS)]);
    return {
      available: true,
      time: this.now(),
      powerOn: ok(chassis) ? parseChassisPower(chassis.stdout) : null,
      sensors,
      selCount: ok(info) ? parseSelInfoEntries(info.stdout) : null,
      selEvents: ok(sel) ? parseSelElist(sel.stdout, SEL_EVENTS) : [],
    };
  }

  /** Runs one ipmitool command after the ones before it; never two at once. */
  ipmitool(command: readonly string[]): Promise<ToolOutcome> {
    const c = this.o.config;
    return this.lane.run(c.ipmitoolPath, ipmitoolArgs(c, command), {
      timeoutMs: c.timeoutMs,
      maxOutputBytes: MAX_OUTPUT_BYTES,
      ...(this.env ? { env: this.env } : {}),
    });
  }

  private describe(o: ToolOutcome): string {
    return describeOutcome("ipmitool", o, this.o.config.timeoutMs);
  }
}

function ok(o: ToolOutcome): o is Extract<ToolOutcome, { kind: "exited" }> {
  return o.kind === "exited" && o.code === 0;
}

function unavailable(reason: string): BmcStatus {
  return { available: false, reason: reason.slice(0, 500), time: null, powerOn: null, sensors: [], selCount: null, selEvents: [] };
}

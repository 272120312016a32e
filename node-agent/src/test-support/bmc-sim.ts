import { execFile } from "node:child_process";
import { mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { connect } from "node:net";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { promisify } from "node:util";
import { FIXTURES } from "./fake-nvidia-smi.js";

const run = promisify(execFile);
const START_SIM = join(FIXTURES, "bmc-sim", "start-sim.sh");

/** The simulator's accounts (fixtures/bmc-sim/start-sim.sh). */
export const SIM_USER = "admin";
export const SIM_PASSWORD = "secret";

/**
 * OpenIPMI's ipmi_sim as a BMC on loopback: a real RMCP+ peer for ipmitool lanplus, with
 * sensors and an event log that tests change through its console. Started by the recipe's
 * start-sim.sh into a private directory; `stop()` kills it and removes the directory.
 */
export class BmcSim {
  private constructor(
    readonly port: number,
    readonly dir: string,
  ) {}

  static async start(attempts = 5): Promise<BmcSim> {
    let last: unknown;
    for (let i = 0; i < attempts; i++) {
      // UDP port P for IPMI, TCP P+1 for the console; start-sim.sh refuses ports in use.
      const port = 20000 + 2 * Math.floor(Math.random() * 20000);
      const dir = mkdtempSync(join(tmpdir(), "enclave-bmc-sim-"));
      try {
        await run(START_SIM, [String(port)], { env: { ...process.env, BMC_RUN_DIR: dir, BMC_START_TIMEOUT: "15" }, timeout: 30_000 });
        return new BmcSim(port, dir);
      } catch (e) {
        last = e;
        await run(START_SIM, ["stop", String(port)], { env: { ...process.env, BMC_RUN_DIR: dir }, timeout: 10_000 }).catch(() => {});
        rmSync(dir, { recursive: true, force: true });
      }
    }
    throw new Error(`ipmi_sim did not start: ${last instanceof Error ? last.message : String(last)}`);
  }

  /** Sends emulator console commands (`sensor_set_value 0x20 0 3 91 1`); rejects on a `**` error reply. Never `quit`. */
  console(...commands: string[]): Promise<string> {
    if (commands.some((c) => c.trim().startsWith("quit"))) return Promise.reject(new Error("quit would stop the simulator"));
    return new Promise((resolve, reject) => {
      const sock = connect(this.port + 1, "127.0.0.1");
      let buf = "";
      let sent = 0;
      const timer = setTimeout(() => {
        sock.destroy();
        reject(new Error(`console timeout: ${buf}`));
      }, 5000);
      sock.setEncoding("latin1");
      sock.on("data", (d: string) => {
        buf += d;
        // One prompt before the first command, then one after each.
        const prompts = buf.split("> ").length - 1;
        if (prompts > sent && sent < commands.length) {
          sock.write(`${commands[sent++]}\n`);
        } else if (prompts > commands.length) {
          clearTimeout(timer);
          sock.end();
          // Strip the console's telnet negotiation bytes and carriage returns.
          const text = buf.replace(/[\xff\xfb\xfe\x01\x03\r]/g, "");
          const errors = text.split("\n").filter((l) => l.startsWith("**"));
          if (errors.length > 0) reject(new Error(errors.join("; ")));
          else resolve(text);
        }
      });
      sock.on("error", (e) => {
        clearTimeout(timer);
        reject(e);
      });
    });
  }

  /** The chassis power state the simulator reports (its chassis-control hook reads this file). */
  setPower(on: boolean): void {
    writeFileSync(join(this.dir, "power.state"), on ? "1\n" : "0\n");
  }

  async stop(): Promise<void> {
    await run(START_SIM, ["stop", String(this.port)], { env: { ...process.env, BMC_RUN_DIR: this.dir }, timeout: 10_000 }).catch(() => {});
    rmSync(this.dir, { recursive: true, force: true });
  }
}

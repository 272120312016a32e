#!/usr/bin/env node
// First, before anything else loads (see there).
import "./agent-v8-flags.js";
import { ConfigError } from "@enclave/contracts";
import { runAuditVerify } from "./commands/audit-verify.js";
import { runConfigCheck } from "./commands/config-check.js";
import { runCapacity, runCordon, runDeploy, runNodes } from "./commands/fleet.js";
import { CONNECTION_HELP } from "./commands/scheduler-client/connection.js";
import { runProcess } from "./commands/process.js";
import { runUp } from "./up/command.js";
import { UsageError } from "./usage.js";

const USAGE = `usage: enclave <command> [options]

processes
  enclave gateway   --config FILE     the DMZ gateway
  enclave scheduler --config FILE     the control plane
  enclave agent     --config FILE     the node-agent of one GPU server

operator
  enclave up [--json] [--port N] [--dir DIR]
                                      the local all-in-one stack, simulated GPUs and engines
  enclave config check KIND FILE...   validate gateway|scheduler|agent config files without starting anything
  enclave audit verify [--public-key FILE] [--sealed] PATH...
                                      verify audit chains (spool directories, segments, a sink's
                                      stored output) and checkpoint signatures; exits 1 on any break
  enclave agent probe [--config FILE] [--nvidia-smi PATH]
                                      read this node's GPUs, BMC and host once; print the node report as JSON

fleet (against a scheduler, with an operator token)
  enclave deploy apply -f FILE...     create or change deployments (YAML: one, a list, or deployments: [...])
  enclave deploy list                 deployments with their state per region and why
  enclave deploy export               every deployment's spec, as a file deploy apply reads (a backup)
  enclave deploy delete NAME...       delete deployments; their replicas are stopped
  enclave nodes [--gpus]              nodes with region, state, GPUs (health, free VRAM) and replicas
  enclave drain NODE [--reason TEXT]  cordon a node and move its replicas, each stopped once its replacement serves
  enclave uncordon NODE               let a node take replicas again
  enclave capacity                    free GPUs per region and the N+1 check (exit 3 when a region fails it)
${CONNECTION_HELP.replace(/^/gm, "  ")}
`;

async function main(argv: string[]): Promise<number> {
  const [command, ...rest] = argv;
  switch (command) {
    case "agent":
      // `agent probe` reads the hardware once; `agent --config` runs the agent.
      if (rest[0] === "probe") return (await import("./commands/agent-probe.js")).runAgentProbe(rest.slice(1));
      return runProcess(command, rest);
    case "gateway":
    case "scheduler":
      return runProcess(command, rest);
    case "up":
      return runUp(rest);
    case "deploy":
      return runDeploy(rest);
    case "nodes":
      return runNodes(rest);
    case "drain":
    case "uncordon":
      return runCordon(command, rest);
    case "capacity":
      return runCapacity(rest);
    case "config":
      if (rest[0] !== "check") throw new UsageError("enclave config check KIND FILE...");
      return runConfigCheck(rest.slice(1));
    case "audit":
      if (rest[0] !== "verify") throw new UsageError("enclave audit verify PATH...");
      return runAuditVerify(rest.slice(1));
    case undefined:
    case "help":
    case "--help":
    case "-h":
      process.stdout.write(USAGE);
      return command === undefined ? 2 : 0;
    default:
      throw new UsageError(`unknown command "${command}"`);
  }
}

main(process.argv.slice(2)).then(
  (code) => {
    if (code >= 0) process.exitCode = code;
  },
  (e: unknown) => {
    if (e instanceof UsageError) {
      process.stderr.write(`enclave: ${e.message}\n\n${USAGE}`);
      process.exitCode = 2;
    } else if (e instanceof ConfigError) {
      process.stderr.write(`enclave: ${e.message}\n`);
      process.exitCode = 2;
    } else {
      process.stderr.write(`enclave: ${e instanceof Error ? e.message : String(e)}\n`);
      process.exitCode = 1;
    }
  },
);

#!/usr/bin/env node
import { ConfigError } from "@enclave/contracts";
import { runAuditVerify } from "./commands/audit-verify.js";
import { runConfigCheck } from "./commands/config-check.js";
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
  enclave audit verify PATH...        verify audit hash chains; exits 1 on any break
`;

async function main(argv: string[]): Promise<number> {
  const [command, ...rest] = argv;
  switch (command) {
    case "gateway":
    case "scheduler":
    case "agent":
      return runProcess(command, rest);
    case "up":
      return runUp(rest);
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

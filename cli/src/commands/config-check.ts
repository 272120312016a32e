import { AgentConfig, ConfigError, GatewayConfig, SchedulerConfig, loadConfigFile } from "@enclave/contracts";
import { UsageError } from "../usage.js";

const SCHEMAS = { gateway: GatewayConfig, scheduler: SchedulerConfig, agent: AgentConfig } as const;

/** `enclave config check KIND FILE...`: every problem of every file, nothing started. */
export async function runConfigCheck(args: string[]): Promise<number> {
  const [kind, ...files] = args;
  if (!kind || !(kind in SCHEMAS) || files.length === 0) throw new UsageError("enclave config check gateway|scheduler|agent FILE...");
  const schema = SCHEMAS[kind as keyof typeof SCHEMAS];
  let failed = 0;
  for (const file of files) {
    try {
      loadConfigFile(schema, file);
      process.stdout.write(`${file}: ok\n`);
    } catch (e) {
      if (!(e instanceof ConfigError)) throw e;
      failed++;
      process.stderr.write(`${e.message}\n`);
    }
  }
  return failed === 0 ? 0 : 1;
}

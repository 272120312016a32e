import { parseArgs } from "node:util";
import { AgentConfig, GatewayConfig, SchedulerConfig, loadConfigFile } from "@enclave/contracts";
import { createLogger, onShutdown } from "@enclave/runtime";
import { UsageError } from "../usage.js";

/** `enclave gateway|scheduler|agent --config FILE`: validate, start, stop cleanly on SIGINT/SIGTERM. */
export async function runProcess(kind: "gateway" | "scheduler" | "agent", args: string[]): Promise<number> {
  const { values } = parseArgs({ args, options: { config: { type: "string", short: "c" } }, strict: true });
  if (!values.config) throw new UsageError(`enclave ${kind} needs --config FILE`);
  const file = values.config;
  let close: () => Promise<void>;
  let log;
  switch (kind) {
    case "gateway": {
      const config = loadConfigFile(GatewayConfig, file);
      log = createLogger("gateway", config.logLevel);
      const { startGateway } = await import("@enclave/gateway/gateway");
      const g = await startGateway(config, { log });
      log.info({ url: g.url }, "gateway listening");
      close = () => g.close();
      break;
    }
    case "scheduler": {
      const config = loadConfigFile(SchedulerConfig, file);
      log = createLogger("scheduler", config.logLevel);
      const { startScheduler } = await import("@enclave/scheduler/scheduler");
      const s = await startScheduler(config, { log });
      log.info({ url: s.url }, "scheduler listening");
      close = () => s.close();
      break;
    }
    case "agent": {
      const config = loadConfigFile(AgentConfig, file);
      log = createLogger("agent", config.logLevel);
      const { startAgent } = await import("@enclave/node-agent/agent");
      const a = await startAgent(config, { log });
      log.info({ url: a.url, node: config.nodeId }, "agent running");
      close = () => a.close();
      break;
    }
  }
  onShutdown(log, close);
  return -1; // keep running until a signal
}

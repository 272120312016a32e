import { hostname } from "node:os";
import { parseArgs } from "node:util";
import { AgentConfig, loadConfigFile, parseConfig } from "@enclave/contracts";
import { readSecret } from "@enclave/runtime";

/**
 * `enclave agent probe [--config FILE] [--nvidia-smi PATH]`: runs every hardware collector
 * once (GPUs, BMC, host) and prints the NodeReport the agent would send, as JSON on stdout.
 * What an operator runs on a suspicious node. Without a config it reads the GPUs through
 * nvidia-smi and the BMC through the local interface. Exit code 0 when the node is healthy,
 * 1 when it is not (degraded, failed or unknown), 2 for a usage or config error.
 */
export async function runAgentProbe(args: string[]): Promise<number> {
  const { values } = parseArgs({ args, options: { config: { type: "string", short: "c" }, "nvidia-smi": { type: "string" } }, strict: true });
  const config = values.config ? loadConfigFile(AgentConfig, values.config) : defaults();
  if (values["nvidia-smi"]) {
    config.gpus.source = "nvidia-smi";
    config.gpus.nvidiaSmi.path = values["nvidia-smi"];
  }
  const bmcPassword = config.bmc.interface === "lanplus" && config.bmc.password ? readSecret(config.bmc.password) : undefined;
  // Only the collectors, not the whole agent (engines, queues, HTTP): a probe starts fast.
  const [{ createGpuSource }, { HardwareMonitor }, { buildNodeReport }, { AGENT_VERSION }] = await Promise.all([
    import("@enclave/node-agent/gpu/create-gpu-source"),
    import("@enclave/node-agent/probe/hardware-monitor"),
    import("@enclave/node-agent/report/node-report"),
    import("@enclave/node-agent/version"),
  ]);
  // No logger: stdout is the report, and everything a log line would say is in it (health reasons, bmc.reason).
  const gpu = createGpuSource(config);
  const monitor = new HardwareMonitor({ config, gpu, ...(bmcPassword !== undefined ? { bmcPassword } : {}) });
  try {
    await monitor.refreshAll();
    const report = buildNodeReport(
      { nodeId: config.nodeId, region: config.region, jurisdiction: config.jurisdiction, agentVersion: AGENT_VERSION },
      Date.now(),
      monitor.gpuSample(),
      [],
      monitor.hardware(),
    );
    process.stdout.write(`${JSON.stringify(report, null, 2)}\n`);
    return report.health.state === "healthy" ? 0 : 1;
  } finally {
    await monitor.close();
  }
}

/** What a probe without a config reads: this host's GPUs through nvidia-smi and its local BMC. */
function defaults(): AgentConfig {
  const nodeId = hostname().replace(/[^A-Za-z0-9._-]/g, "-").replace(/^[^A-Za-z0-9]+/, "").slice(0, 63) || "localhost";
  return parseConfig(
    AgentConfig,
    {
      nodeId,
      region: "unknown",
      jurisdiction: "UNKNOWN",
      logLevel: "warn",
      // Never contacted by a probe; the schema wants them.
      scheduler: { url: "http://127.0.0.1:1", token: { env: "ENCLAVE_PROBE_NO_TOKEN" } },
      gpus: { source: "nvidia-smi" },
      bmc: { interface: "open" },
      engines: { driver: "process" },
    },
    "(probe defaults)",
  );
}

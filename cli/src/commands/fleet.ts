import { parseArgs } from "node:util";
import { readFileSync } from "node:fs";
import { ApplyResult, CapacityReport, ConfigError, CordonResult, DeploymentFile, DeploymentStatusList, DeploymentView, NodeList, parseConfigText, type Deployment } from "@enclave/contracts";
import { UsageError } from "../usage.js";
import { capacityTable } from "./format/capacity-table.js";
import { deploymentsTable } from "./format/deployments-table.js";
import { nodesTable } from "./format/nodes-table.js";
import { SchedulerError, callScheduler } from "./scheduler-client/client.js";
import { CONNECTION_OPTIONS, connectionFrom, type Connection } from "./scheduler-client/connection.js";

/** Where an operator command writes: tests pass their own. */
export interface Io {
  out(s: string): void;
  err(s: string): void;
  env: NodeJS.ProcessEnv;
}

const processIo: Io = { out: (s) => process.stdout.write(s), err: (s) => process.stderr.write(s), env: process.env };

function parse<O extends Record<string, { type: "string" | "boolean"; multiple?: boolean; short?: string; default?: string | boolean }>>(args: string[], options: O, usage: string) {
  try {
    return parseArgs({ args, options: { ...CONNECTION_OPTIONS, ...options }, allowPositionals: true, strict: true });
  } catch (e) {
    throw new UsageError(`${(e as Error).message}\n  ${usage}`);
  }
}

/** Runs `act`; a scheduler error is printed and exits 1 (usage errors stay exit 2). */
async function withScheduler(io: Io, act: () => Promise<number>): Promise<number> {
  try {
    return await act();
  } catch (e) {
    if (!(e instanceof SchedulerError)) throw e;
    io.err(`enclave: ${e.message}\n`);
    return 1;
  }
}

/** `enclave deploy apply -f FILE... | list | export | delete NAME...` */
export async function runDeploy(args: string[], io: Io = processIo): Promise<number> {
  const [sub, ...rest] = args;
  switch (sub) {
    case "apply": {
      const { values, positionals } = parse(rest, { file: { type: "string", short: "f", multiple: true } }, "enclave deploy apply -f FILE [-f FILE...]");
      if (positionals.length > 0 || !values.file?.length) throw new UsageError("enclave deploy apply -f FILE [-f FILE...]");
      // Every file is read and validated before anything is sent: a typo in the third file changes nothing.
      const specs: Deployment[] = [];
      for (const file of values.file) specs.push(...readDeploymentFile(file));
      const conn = connectionFrom(values, io.env);
      return withScheduler(io, async () => {
        const results: ApplyResult[] = [];
        for (const d of specs) {
          const r = ApplyResult.parse(await callScheduler(conn, "PUT", `/v1/deployments/${encodeURIComponent(d.name)}`, d));
          results.push(r);
          if (!values.json) io.out(`deployment ${r.name} ${r.result} (generation ${r.generation})\n`);
        }
        if (values.json) io.out(JSON.stringify({ applied: results }) + "\n");
        return 0;
      });
    }
    case "list": {
      const { values, positionals } = parse(rest, {}, "enclave deploy list");
      if (positionals.length > 0) throw new UsageError("enclave deploy list");
      const conn = connectionFrom(values, io.env);
      return withScheduler(io, async () => {
        const list = DeploymentStatusList.parse(await callScheduler(conn, "GET", "/v1/deployments"));
        io.out(values.json ? JSON.stringify(list) + "\n" : deploymentsTable(list));
        return 0;
      });
    }
    case "export": {
      // Every spec, as a file `deploy apply -f` reads back: a backup of desired state.
      const { values, positionals } = parse(rest, {}, "enclave deploy export");
      if (positionals.length > 0) throw new UsageError("enclave deploy export");
      const conn = connectionFrom(values, io.env);
      return withScheduler(io, async () => {
        const names = DeploymentStatusList.parse(await callScheduler(conn, "GET", "/v1/deployments")).deployments.map((d) => d.name);
        const specs: Deployment[] = [];
        for (const name of names) specs.push(DeploymentView.parse(await callScheduler(conn, "GET", `/v1/deployments/${encodeURIComponent(name)}`)).spec);
        io.out(JSON.stringify({ deployments: specs }, null, 2) + "\n");
        return 0;
      });
    }
    case "delete": {
      const { values, positionals } = parse(rest, {}, "enclave deploy delete NAME...");
      if (positionals.length === 0) throw new UsageError("enclave deploy delete NAME...");
      const conn = connectionFrom(values, io.env);
      return withScheduler(io, async () => {
        for (const name of positionals) {
          await callScheduler(conn, "DELETE", `/v1/deployments/${encodeURIComponent(name)}`);
          io.out(values.json ? JSON.stringify({ deleted: name }) + "\n" : `deployment ${name} deleted; its replicas are being stopped\n`);
        }
        return 0;
      });
    }
    default:
      throw new UsageError("enclave deploy apply -f FILE | list | export | delete NAME");
  }
}

/** `enclave nodes [--gpus]` */
export async function runNodes(args: string[], io: Io = processIo): Promise<number> {
  const { values, positionals } = parse(args, { gpus: { type: "boolean", default: false } }, "enclave nodes [--gpus]");
  if (positionals.length > 0) throw new UsageError("enclave nodes [--gpus]");
  const conn = connectionFrom(values, io.env);
  return withScheduler(io, async () => {
    const list = NodeList.parse(await callScheduler(conn, "GET", "/v1/nodes"));
    io.out(values.json ? JSON.stringify(list) + "\n" : nodesTable(list.nodes, { gpus: values.gpus }));
    return 0;
  });
}

/** `enclave drain NODE [--reason TEXT]` and `enclave uncordon NODE` */
export async function runCordon(kind: "drain" | "uncordon", args: string[], io: Io = processIo): Promise<number> {
  const usage = kind === "drain" ? "enclave drain NODE [--reason TEXT]" : "enclave uncordon NODE";
  const { values, positionals } = parse(args, kind === "drain" ? { reason: { type: "string" } } : {}, usage);
  if (positionals.length !== 1) throw new UsageError(usage);
  const nodeId = positionals[0]!;
  const conn: Connection = connectionFrom(values, io.env);
  const reason = (values as { reason?: string }).reason;
  return withScheduler(io, async () => {
    const body = kind === "drain" ? (reason !== undefined ? { reason } : {}) : undefined;
    const r = CordonResult.parse(await callScheduler(conn, "POST", `/v1/nodes/${encodeURIComponent(nodeId)}/${kind}`, body));
    if (values.json) io.out(JSON.stringify(r) + "\n");
    else if (kind === "drain") {
      io.out(
        r.changed
          ? `node ${nodeId} cordoned; its replicas move to other nodes of its region, each stopped only once its replacement serves (watch: enclave nodes)\n`
          : `node ${nodeId} was already cordoned (since ${new Date(r.cordon?.since ?? 0).toISOString()} by ${r.cordon?.by ?? "?"})\n`,
      );
    } else io.out(r.changed ? `node ${nodeId} uncordoned; it takes new replicas again\n` : `node ${nodeId} was not cordoned\n`);
    return 0;
  });
}

/** `enclave capacity`: exit 3 when some region fails N+1, so a cron job can alert on it. */
export async function runCapacity(args: string[], io: Io = processIo): Promise<number> {
  const { values, positionals } = parse(args, {}, "enclave capacity");
  if (positionals.length > 0) throw new UsageError("enclave capacity");
  const conn = connectionFrom(values, io.env);
  return withScheduler(io, async () => {
    const report = CapacityReport.parse(await callScheduler(conn, "GET", "/v1/capacity"));
    io.out(values.json ? JSON.stringify(report) + "\n" : capacityTable(report));
    return report.regions.every((r) => r.nPlusOne.ok) ? 0 : 3;
  });
}

/** The deployments of one YAML file; a ConfigError names the file and the path inside it. */
export function readDeploymentFile(file: string): Deployment[] {
  let text: string;
  try {
    text = file === "-" ? readFileSync(0, "utf8") : readFileSync(file, "utf8");
  } catch (e) {
    throw new ConfigError(file, [{ path: "", message: `cannot read: ${(e as NodeJS.ErrnoException).code ?? String(e)}` }]);
  }
  return parseConfigText(DeploymentFile, text, file);
}

import { parseArgs } from "node:util";
import { LOCAL_MODEL } from "./plan.js";
import { startLocalStack, type LocalStack } from "./stack.js";
import { UsageError } from "../usage.js";

/** `enclave up`: the local all-in-one stack, in the foreground until Ctrl-C or SIGTERM. */
export async function runUp(args: string[]): Promise<number> {
  const { values } = parseArgs({
    args,
    options: { json: { type: "boolean", default: false }, port: { type: "string", default: "8080" }, dir: { type: "string" }, host: { type: "string", default: "127.0.0.1" } },
    strict: true,
  });
  const port = Number(values.port);
  if (!Number.isInteger(port) || port < 0 || port > 65535) throw new UsageError(`--port must be a port number, not "${values.port}"`);

  const say = (s: string) => (values.json ? process.stderr : process.stdout).write(s + "\n");
  let stack: LocalStack | undefined;
  let stopping: Promise<void> | undefined;
  const shutdown = (code: number) => {
    stopping ??= (stack?.stop() ?? Promise.resolve()).finally(() => process.exit(code));
    return stopping;
  };
  process.on("SIGINT", () => void shutdown(0));
  process.on("SIGTERM", () => void shutdown(0));

  const started = Date.now();
  if (!values.json) say("starting the local Enclave stack (simulated GPUs and engines)…");
  stack = await startLocalStack({
    host: values.host,
    port,
    ...(values.dir ? { dir: values.dir } : {}),
    ...(process.env.REDIS_URL ? { redisUrl: process.env.REDIS_URL } : {}),
    onChildExit: (name, logFile) => {
      process.stderr.write(`enclave up: ${name} exited unexpectedly; see ${logFile}. Stopping.\n`);
      void shutdown(1);
    },
  });
  if (values.json) {
    process.stdout.write(JSON.stringify({ gateway: stack.gateway, keys: stack.keys, scheduler: stack.scheduler, auditLog: stack.auditLog, schedulerAuditLog: stack.schedulerAuditLog, stateDir: stack.stateDir, operatorTokenFile: stack.operatorTokenFile }) + "\n");
  } else {
    say(`serving after ${((Date.now() - started) / 1000).toFixed(1)} s
  gateway     ${stack.gateway}   (EU and US tenants; ${LOCAL_MODEL} in eu-central-1 and us-east-1)
  EU key      ${stack.keys.eu}
  US key      ${stack.keys.us}
  audit log   ${stack.auditLog} (gateway), ${stack.schedulerAuditLog} (scheduler); enclave audit verify DIR
  logs        ${stack.logsDir}
  operator    export ENCLAVE_SCHEDULER_URL=${stack.scheduler} ENCLAVE_TOKEN_FILE=${stack.operatorTokenFile}
              then: enclave nodes | enclave deploy list | enclave capacity

try it:
  curl -s ${stack.gateway}/v1/chat/completions -H "Authorization: Bearer ${stack.keys.eu}" -H "Content-Type: application/json" -d '{"model":"${LOCAL_MODEL}","messages":[{"role":"user","content":"Hello"}]}' -i

Ctrl-C stops everything.`);
  }
  return -1;
}

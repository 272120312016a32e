#!/usr/bin/env node
/**
 * The engine simulator as a process, started by the node-agent's process driver in place of vLLM.
 * stdout carries exactly one line, `{"event":"listening",...}`; logs go to stderr as JSON.
 */
import { ENGINE_USAGE, parseEngineArgs } from "./engine/cli-args.js";
import { startEngineSim, type EngineSim } from "./engine/server.js";

function log(level: "info" | "error", msg: string, extra: Record<string, unknown> = {}): void {
  process.stderr.write(`${JSON.stringify({ level, time: Date.now(), name: "engine-sim", pid: process.pid, msg, ...extra })}\n`);
}

async function main(): Promise<void> {
  const parsed = parseEngineArgs(process.argv.slice(2));
  if (!parsed.ok) {
    process.stderr.write(`engine-main: ${parsed.error}\n${ENGINE_USAGE}\n`);
    process.exit(2);
  }
  const args = parsed.args;
  if (args.help) {
    process.stdout.write(`${ENGINE_USAGE}\n`);
    return;
  }

  let engine: EngineSim;
  try {
    engine = await startEngineSim(args.engine);
  } catch (e) {
    log("error", "cannot start", { error: (e as Error).message });
    process.exit(1);
  }

  let stopping = false;
  const stop = (why: string) => {
    if (stopping) return;
    stopping = true;
    log("info", "stopping", { why });
    const force = setTimeout(() => {
      log("error", "close timed out");
      process.exit(1);
    }, 5000);
    force.unref();
    engine.close().then(
      () => process.exit(0),
      (e: unknown) => {
        log("error", "close failed", { error: (e as Error).message });
        process.exit(1);
      },
    );
  };
  process.on("SIGTERM", () => stop("SIGTERM"));
  process.on("SIGINT", () => stop("SIGINT"));
  if (args.exitWithParent) {
    // The parent holds our stdin open; EOF or an error on it means the parent is gone.
    process.stdin.on("end", () => stop("stdin closed"));
    process.stdin.on("close", () => stop("stdin closed"));
    process.stdin.on("error", () => stop("stdin error"));
    process.stdin.resume();
  }

  process.stdout.write(`${JSON.stringify({ event: "listening", url: engine.url, pid: process.pid })}\n`);
  log("info", "listening", { url: engine.url, model: args.engine.model });
}

main().catch((e: unknown) => {
  log("error", "fatal", { error: (e as Error).message });
  process.exit(1);
});

import { spawn, type ChildProcess } from "node:child_process";
import { openSync, closeSync } from "node:fs";
import { stopChild } from "@enclave/runtime";

export interface Child {
  name: string;
  logFile: string;
  process: ChildProcess;
  /** Resolves when the process has exited, for whatever reason. */
  exited: Promise<{ code: number | null; signal: NodeJS.Signals | null }>;
}

/** Starts `node <script> <args>` with stdout and stderr going to `logFile`. */
export function startChild(name: string, script: string, args: string[], logFile: string, env: NodeJS.ProcessEnv = process.env): Child {
  const fd = openSync(logFile, "a", 0o600);
  try {
    const child = spawn(process.execPath, [script, ...args], { stdio: ["ignore", fd, fd], env });
    const exited = new Promise<{ code: number | null; signal: NodeJS.Signals | null }>((resolve) => {
      child.once("exit", (code, signal) => resolve({ code, signal }));
      child.once("error", () => resolve({ code: null, signal: null }));
    });
    return { name, logFile, process: child, exited };
  } finally {
    closeSync(fd);
  }
}

export function stop(child: Child, graceMs = 8000): Promise<void> {
  return stopChild(child.process, graceMs);
}

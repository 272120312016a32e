import { Writable } from "node:stream";
import type { Logger } from "@enclave/runtime";
import { pino } from "pino";

/** A real pino logger whose JSON lines are kept in memory, for tests that assert on what was logged. */
export function capturingLogger(level = "info"): { log: Logger; lines: Record<string, unknown>[] } {
  const lines: Record<string, unknown>[] = [];
  const sink = new Writable({
    write(chunk: Buffer, _enc, cb) {
      for (const l of chunk.toString().split("\n")) if (l.trim() !== "") lines.push(JSON.parse(l) as Record<string, unknown>);
      cb();
    },
  });
  return { log: pino<never>({ level }, sink), lines };
}

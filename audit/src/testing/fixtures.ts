import { constants } from "node:fs";
import { mkdtemp, readdir, readFile, readlink, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import type { TestContext } from "node:test";
import type { AuditEvent } from "@enclave/contracts";

/** A temporary directory removed after the test, pass or fail. */
export async function tempDir(t: TestContext, prefix = "enclave-audit-"): Promise<string> {
  const dir = await mkdtemp(join(tmpdir(), prefix));
  t.after(() => rm(dir, { recursive: true, force: true }));
  return dir;
}

/** A routed request's event; `i` varies the token counts so records differ. */
export function routedEvent(i: number, region = "eu-central-1"): AuditEvent {
  return {
    tenant: "acme", principal: "key-1", action: "chat.completions", model: "meta-llama/Llama-3.1-8B-Instruct",
    allowedRegions: [region], region, nodeId: "node-1", backendId: `node-1/llama/${region}/0/g0`, decision: "routed",
    reason: "ok", status: 200, retries: 0, promptTokens: i, completionTokens: 2 * i, latencyMs: 41.5, bodySha256: "ab".repeat(32),
  };
}

/** A denial: no serving region. */
export function deniedEvent(): AuditEvent {
  return {
    tenant: null, principal: null, action: "chat.completions", model: null, allowedRegions: [], region: null, nodeId: null,
    backendId: null, decision: "denied", reason: "invalid_api_key", status: 401, retries: 0, promptTokens: null,
    completionTokens: null, latencyMs: 0.4, bodySha256: null,
  };
}

/**
 * Whether process `pid` holds a file ending in `suffix` open with O_DSYNC (from
 * /proc/PID/fdinfo), or null when it holds none: proof of which spool mode is in effect.
 */
export async function openWithDsync(pid: number | "self", suffix: string): Promise<boolean | null> {
  for (const fd of await readdir(`/proc/${pid}/fd`)) {
    const target = await readlink(`/proc/${pid}/fd/${fd}`).catch(() => "");
    if (!target.endsWith(suffix)) continue;
    const flags = /^flags:\s+([0-7]+)$/m.exec(await readFile(`/proc/${pid}/fdinfo/${fd}`, "utf8").catch(() => ""));
    if (flags) return (parseInt(flags[1]!, 8) & constants.O_DSYNC) !== 0;
  }
  return null;
}

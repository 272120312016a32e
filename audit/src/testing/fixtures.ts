import { mkdtemp, rm } from "node:fs/promises";
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

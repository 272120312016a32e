import assert from "node:assert/strict";
import { describe, it } from "node:test";
import { waitFor } from "@enclave/runtime";
import { node } from "./testing/fixtures.js";
import { FakeNode, startTestRedis, startTestScheduler, type TestScheduler } from "./testing/harness.js";

const EU = "eu-central-1";

async function leads(s: TestScheduler): Promise<boolean> {
  const text = await (await s.get("/metrics", { token: null })).text();
  return /^enclave_scheduler_leader\{[^}]*\} 1$/m.test(text);
}

describe("leader lease", () => {
  it("lets one of two schedulers on one Redis reconcile, and the other take over when it stops", async (t) => {
    const redis = await startTestRedis(t);
    const opts = { redisUrl: redis.url, nodes: ["eu-1"], deployments: [{ name: "chat", model: "org/chat", replicasPerRegion: { [EU]: 1 } }], nodeTtlMs: 5000 };
    const a = await startTestScheduler(t, opts);
    await waitFor(() => leads(a), { timeoutMs: 5000, what: "a to lead" });
    const b = await startTestScheduler(t, { ...opts, tokens: { nodeTokens: a.nodeTokens, readerToken: a.readerToken } });
    new FakeNode(b, node("eu-1", EU, "EU")).start(t);
    // b serves reads (status written by a, nodes heartbeating to b) but does not lead.
    await waitFor(async () => {
      const r = (await (await b.get("/v1/deployments")).json()) as { deployments: { regions: { reason: string }[] }[] };
      return /replica 0 on eu-1/.test(r.deployments[0]?.regions[0]?.reason ?? "");
    }, { timeoutMs: 5000, what: "a's status read through b" });
    assert.equal(await leads(b), false);
    assert.equal(await leads(a), true);

    await a.scheduler.close();
    await waitFor(() => leads(b), { timeoutMs: 5000, what: "b to take over" });
  });
});

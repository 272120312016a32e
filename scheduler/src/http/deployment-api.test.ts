import assert from "node:assert/strict";
import { describe, it } from "node:test";
import { verifyAuditPath } from "@enclave/audit";
import { ApplyResult, DeploymentStatusList, DeploymentView, StartJob, nodeQueueName, startJobId, stopJobId } from "@enclave/contracts";
import { waitFor } from "@enclave/runtime";
import { Queue } from "bullmq";
import { Redis } from "ioredis";
import { backend, node } from "../testing/fixtures.js";
import { FakeNode, defer, startTestRedis, startTestScheduler, tokensOf, type TestScheduler } from "../testing/harness.js";

const EU = "eu-central-1";
const spec = { model: "org/chat", replicasPerRegion: { [EU]: 1 }, gpusPerReplica: 1, vramPerGpuMiB: 20000 };

async function errorOf(r: Response): Promise<{ status: number; code: string; message: string }> {
  const body = (await r.json()) as { error: { code: string; message: string } };
  return { status: r.status, code: body.error.code, message: body.error.message };
}

describe("deployment API", () => {
  it("creates, leaves an identical apply unchanged, updates with a new generation, and deletes; every action audited", async (t) => {
    const redis = await startTestRedis(t);
    const s = await startTestScheduler(t, { redisUrl: redis.url, nodes: [] });

    const created = await s.send("PUT", "/v1/deployments/chat", spec);
    assert.equal(created.status, 201);
    const c = ApplyResult.parse(await created.json());
    assert.deepEqual([c.name, c.result], ["chat", "created"]);

    const same = ApplyResult.parse(await (await s.send("PUT", "/v1/deployments/chat", { ...spec, name: "chat", engine: "vllm" })).json());
    assert.deepEqual([same.result, same.generation], ["unchanged", c.generation], "defaults written out change nothing");

    const updated = ApplyResult.parse(await (await s.send("PUT", "/v1/deployments/chat", { ...spec, args: ["--max-model-len", "4096"] })).json());
    assert.equal(updated.result, "updated");
    assert.ok(updated.generation > c.generation);

    const one = DeploymentView.parse(await (await s.get("/v1/deployments/chat")).json());
    assert.deepEqual([one.spec.args, one.generation, one.updatedBy], [["--max-model-len", "4096"], updated.generation, "bob-operator"]);
    // Before the next pass: waiting for it; after it: no node anywhere, so degraded, saying why.
    assert.equal(one.status.generation, updated.generation);
    const r0 = one.status.regions[0];
    assert.ok(
      (r0?.state === "progressing" && /waiting for the next reconcile pass/.test(r0.reason)) || (r0?.state === "degraded" && /0\/0 nodes available: no live nodes/.test(r0.reason)),
      JSON.stringify(r0),
    );

    const list = DeploymentStatusList.parse(await (await s.get("/v1/deployments")).json());
    assert.deepEqual(list.deployments.map((d) => [d.name, d.generation]), [["chat", updated.generation]]);

    assert.equal((await s.send("DELETE", "/v1/deployments/chat")).status, 200);
    assert.deepEqual(await errorOf(await s.send("DELETE", "/v1/deployments/chat")), { status: 404, code: "not_found", message: 'no deployment "chat"' });
    assert.equal((await s.get("/v1/deployments/chat")).status, 404);

    const records = await s.auditRecords();
    assert.deepEqual(
      records.map((r) => [r.action, r.principal, r.status, r.decision, r.emitter]),
      [
        ["deployment.apply", "bob-operator", 201, "operator", "scheduler"],
        ["deployment.apply", "bob-operator", 200, "operator", "scheduler"],
        ["deployment.apply", "bob-operator", 200, "operator", "scheduler"],
        ["deployment.delete", "bob-operator", 200, "operator", "scheduler"],
        ["deployment.delete", "bob-operator", 404, "operator", "scheduler"],
      ],
    );
    assert.equal(records[0]?.model, "org/chat");
    assert.deepEqual(records[0]?.allowedRegions, [EU]);
    assert.match(records[0]?.reason ?? "", /^created chat at generation \d+$/);
    assert.match(records[0]?.bodySha256 ?? "", /^[0-9a-f]{64}$/);
    assert.ok((await verifyAuditPath(s.auditDir!)).ok, "the chain is whole");
    // The same audit metrics as the gateway's, told apart by their component label.
    const metrics = await (await s.get("/metrics", { token: null })).text();
    assert.match(metrics, new RegExp(`^enclave_audit_records_total\\{region="${EU}",component="scheduler"\\} 5$`, "m"));
    assert.match(metrics, /^enclave_audit_spool_budget_exhausted\{component="scheduler"\} 0$/m);
    // Five records, one at a time: each its own synchronous write.
    assert.match(metrics, new RegExp(`^enclave_audit_spool_syncs_total\\{region="${EU}",component="scheduler"\\} 5$`, "m"));
  });

  it("refuses bad specs with 400 and the issues, a name that differs from the path, and audits the refusals", async (t) => {
    const redis = await startTestRedis(t);
    const s = await startTestScheduler(t, { redisUrl: redis.url, nodes: [] });

    const bad = await errorOf(await s.send("PUT", "/v1/deployments/chat", { model: "org/chat", replicasPerRegion: { "EU Central": 1 }, gpusPerReplica: 0, colour: "blue" }));
    assert.equal(bad.status, 400);
    assert.match(bad.message, /^invalid deployment: /);
    assert.match(bad.message, /replicasPerRegion/);
    assert.match(bad.message, /gpusPerReplica: /);
    assert.match(bad.message, /colour/);

    const logging = await errorOf(await s.send("PUT", "/v1/deployments/chat", { ...spec, args: ["--max-num-seqs", "8", "--enable-log-requests"] }));
    assert.deepEqual([logging.status, logging.message], [400, 'invalid deployment: args: "--enable-log-requests" makes the engine write request or response content to its logs or disk; prompts never leave the data path']);

    const other = await errorOf(await s.send("PUT", "/v1/deployments/chat", { ...spec, name: "other" }));
    assert.deepEqual([other.status, other.message], [400, 'invalid deployment: name "other" in the body of a request for "chat"']);
    assert.equal((await s.send("PUT", "/v1/deployments/chat", "[1,2]")).status, 400);
    assert.equal((await s.send("PUT", "/v1/deployments/bad%20name", spec)).status, 400);
    assert.equal((await s.send("PUT", "/v1/deployments/chat", "{not json")).status, 400);
    assert.equal((await s.send("PUT", "/v1/deployments/chat", { ...spec, args: ["x".repeat(300 * 1024)] })).status, 413);

    assert.equal((await s.get("/v1/deployments/chat")).status, 404, "nothing was stored");
    assert.deepEqual(
      (await s.auditRecords()).map((r) => [r.action, r.status]),
      [
        ["deployment.apply", 400],
        ["deployment.apply", 400],
        ["deployment.apply", 400],
        ["deployment.apply", 400],
        ["deployment.apply", 400],
      ],
    );
  });

  it("lets only operators write and viewers read; the gateway's route token reads routes only; refusals by known tokens are audited", async (t) => {
    const redis = await startTestRedis(t);
    const s = await startTestScheduler(t, { redisUrl: redis.url, nodes: ["eu-1"] });

    const noToken = await errorOf(await s.send("PUT", "/v1/deployments/chat", spec, { token: null }));
    assert.deepEqual(noToken, { status: 401, code: "unauthorized", message: "missing or unknown bearer token" });
    const viewer = await errorOf(await s.send("PUT", "/v1/deployments/chat", spec, { token: s.viewerToken }));
    assert.deepEqual([viewer.status, viewer.code, viewer.message], [403, "forbidden", "a viewer token may only read; this action needs an operator token"]);
    assert.equal((await s.send("DELETE", "/v1/deployments/chat", undefined, { token: s.readerToken })).status, 403);
    assert.equal((await s.send("PUT", "/v1/deployments/chat", spec, { token: s.nodeTokens.get("eu-1") ?? "" })).status, 403);

    const reader = await errorOf(await s.get("/v1/deployments", { token: s.readerToken }));
    assert.deepEqual([reader.status, reader.message], [403, "a route-reader token may only read the route table"]);
    assert.equal((await s.get("/v1/nodes", { token: s.readerToken })).status, 403);
    assert.equal((await s.get("/v1/capacity", { token: s.readerToken })).status, 403);
    assert.equal((await s.get("/v1/routes", { token: s.readerToken })).status, 200);
    for (const token of [s.viewerToken, s.operatorToken]) {
      for (const path of ["/v1/deployments", "/v1/nodes", "/v1/capacity", "/v1/routes"]) assert.equal((await s.get(path, { token })).status, 200, path);
    }

    await waitFor(async () => (await s.auditRecords()).length === 3, { timeoutMs: 3000, what: "three refusal records" });
    assert.deepEqual(
      (await s.auditRecords()).map((r) => [r.principal, r.status, r.reason.startsWith("refused: ")]),
      [
        ["alice-viewer", 403, true],
        ["gateway", 403, true],
        ["eu-1", 403, true],
      ],
    );
  });

  it("refuses operator actions without an audit trail", async (t) => {
    const redis = await startTestRedis(t);
    const s = await startTestScheduler(t, { redisUrl: redis.url, nodes: ["eu-1"], auditDir: null });
    const r = await errorOf(await s.send("PUT", "/v1/deployments/chat", spec));
    assert.deepEqual(r, { status: 503, code: "unavailable", message: "operator actions are disabled: this scheduler has no audit.spool configured" });
    assert.equal((await s.send("POST", "/v1/nodes/eu-1/drain", {})).status, 503);
    assert.equal((await s.get("/v1/deployments")).status, 200, "reads still work");
  });

  it("places an applied deployment, rolls it when its engine settings change, and stops its replicas when deleted", async (t) => {
    const redis = await startTestRedis(t);
    const conn = new Redis(redis.url, { maxRetriesPerRequest: null });
    const queue = new Queue(nodeQueueName("eu-1"), { connection: conn });
    defer(t, async () => {
      await queue.close();
      conn.disconnect();
    });
    const s = await startTestScheduler(t, { redisUrl: redis.url, nodes: ["eu-1"] });
    const eu1 = new FakeNode(s, node("eu-1", EU, "EU")).start(t);
    assert.equal((await s.send("PUT", "/v1/deployments/chat", spec)).status, 201);

    const ref0 = { deployment: "chat", region: EU, replica: 0, generation: 0 };
    const first = StartJob.parse((await waitFor(() => queue.getJob(startJobId(ref0)), { timeoutMs: 5000, what: "a start job" })).data);
    eu1.report = node("eu-1", EU, "EU", { backends: [backend("eu-1", ref0, { gpus: first.gpus })] });
    await waitFor(async () => DeploymentStatusList.parse(await (await s.get("/v1/deployments")).json()).deployments[0]?.regions[0]?.state === "ready", { timeoutMs: 5000, what: "ready" });

    assert.equal((await s.send("PUT", "/v1/deployments/chat", { ...spec, args: ["--seed", "7"] })).status, 200);
    const ref1 = { ...ref0, generation: 1 };
    const rolled = StartJob.parse((await waitFor(() => queue.getJob(startJobId(ref1)), { timeoutMs: 5000, what: "the replacement's start job" })).data);
    assert.deepEqual(rolled.args, ["--seed", "7"]);
    assert.notDeepEqual(rolled.gpus, first.gpus);
    assert.equal(await queue.getJob(stopJobId(`eu-1/chat/${EU}/0/g0`)), undefined, "the old one serves until the new one is ready");
    eu1.report = node("eu-1", EU, "EU", { backends: [backend("eu-1", ref0, { gpus: first.gpus }), backend("eu-1", ref1, { gpus: rolled.gpus })] });
    await waitFor(() => queue.getJob(stopJobId(`eu-1/chat/${EU}/0/g0`)), { timeoutMs: 5000, what: "the old replica stopped" });

    assert.equal((await s.send("DELETE", "/v1/deployments/chat")).status, 200);
    await waitFor(() => queue.getJob(stopJobId(`eu-1/chat/${EU}/0/g1`)), { timeoutMs: 5000, what: "the deleted deployment's replica stopped" });
  });

  it("seeds config deployments at start when Redis has none of that name; after that the stored one stands", async (t) => {
    const redis = await startTestRedis(t);
    const opts = { redisUrl: redis.url, nodes: [], deployments: [{ name: "cfg", ...spec }] };
    const a = await startTestScheduler(t, opts);
    const seeded = DeploymentView.parse(await (await a.get("/v1/deployments/cfg")).json());
    assert.equal(seeded.updatedBy, "config");
    assert.equal((await a.send("PUT", "/v1/deployments/cfg", { ...spec, replicasPerRegion: { [EU]: 3 } })).status, 200);
    await a.scheduler.close();

    // The file still says 1 replica: the stored 3 stand.
    const b = await startTestScheduler(t, { ...opts, tokens: tokensOf(a) });
    const kept = DeploymentView.parse(await (await b.get("/v1/deployments/cfg")).json());
    assert.deepEqual([kept.spec.replicasPerRegion, kept.updatedBy], [{ [EU]: 3 }, "bob-operator"]);
    assert.equal((await b.send("DELETE", "/v1/deployments/cfg")).status, 200);

    // Redis loses everything while b runs: the leader writes the file's deployments again.
    const admin = new Redis(redis.url);
    defer(t, () => admin.disconnect());
    await admin.flushall();
    const back = await waitFor(async () => {
      const r = await b.get("/v1/deployments/cfg");
      return r.status === 200 ? DeploymentView.parse(await r.json()) : undefined;
    }, { timeoutMs: 5000, what: "the config deployment written again" });
    assert.deepEqual(back.spec.replicasPerRegion, { [EU]: 1 });
  });
});

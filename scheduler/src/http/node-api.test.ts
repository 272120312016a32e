import assert from "node:assert/strict";
import { describe, it } from "node:test";
import { NodeList } from "@enclave/contracts";
import { waitFor } from "@enclave/runtime";
import { backend, node } from "../testing/fixtures.js";
import { startTestRedis, startTestScheduler } from "../testing/harness.js";

const EU = "eu-central-1";

async function errorOf(r: Response): Promise<{ status: number; code: string; message: string }> {
  const body = (await r.json()) as { error: { code: string; message: string } };
  return { status: r.status, code: body.error.code, message: body.error.message };
}

describe("node API", () => {
  it("authenticates heartbeats: 401 without or with an unknown token, 403 for someone else's node", async (t) => {
    const redis = await startTestRedis(t);
    const s = await startTestScheduler(t, { redisUrl: redis.url, nodes: ["eu-1", "eu-2"] });
    const report = node("eu-1", EU, "EU");

    const none = await s.heartbeat(report, { token: null });
    assert.deepEqual(await errorOf(none), { status: 401, code: "unauthorized", message: "missing or unknown bearer token" });
    const unknown = await s.heartbeat(report, { token: "not-a-token" });
    assert.equal(unknown.status, 401);
    const malformed = await fetch(`${s.url}/v1/nodes/eu-1/heartbeat`, {
      method: "POST",
      headers: { "content-type": "application/json", authorization: `Basic ${s.nodeTokens.get("eu-1")}` },
      body: JSON.stringify(report),
    });
    assert.equal(malformed.status, 401);

    const other = await s.heartbeat(report, { token: s.nodeTokens.get("eu-2") ?? "" });
    const otherErr = await errorOf(other);
    assert.deepEqual([otherErr.status, otherErr.code], [403, "forbidden"]);
    assert.ok(!otherErr.message.includes(s.nodeTokens.get("eu-2") ?? "?"), "the token is never echoed");

    const reader = await s.heartbeat(report, { token: s.readerToken });
    assert.equal(reader.status, 403);

    const ok = await s.heartbeat(report);
    assert.equal(ok.status, 200);
    assert.deepEqual(await ok.json(), { ok: true });
  });

  it("refuses a heartbeat that claims another region or jurisdiction than its node is pinned to, and stores nothing", async (t) => {
    const redis = await startTestRedis(t);
    const s = await startTestScheduler(t, { redisUrl: redis.url, nodes: ["eu-1", "us-1", "any-1"], pins: { "eu-1": { region: EU, jurisdiction: "EU" }, "us-1": { region: "us-east-1" } } });

    const moved = await errorOf(await s.heartbeat(node("eu-1", "us-east-1", "EU")));
    assert.deepEqual(moved, { status: 403, code: "forbidden", message: 'node "eu-1" reports region "us-east-1", but the node is configured in "eu-central-1"' });
    const foreignLaw = await errorOf(await s.heartbeat(node("eu-1", EU, "US")));
    assert.deepEqual([foreignLaw.status, foreignLaw.message], [403, 'node "eu-1" reports jurisdiction "US", but the node is configured under "EU"']);
    assert.deepEqual(NodeList.parse(await (await s.get("/v1/nodes")).json()).nodes, [], "a refused report is never stored");

    assert.equal((await s.heartbeat(node("eu-1", EU, "EU"))).status, 200);
    // Pinned fields only: us-1 pins its region, not its jurisdiction; any-1 pins nothing.
    assert.equal((await s.heartbeat(node("us-1", "us-east-1", "CA"))).status, 200);
    assert.equal((await s.heartbeat(node("any-1", "ap-south-1", "IN"))).status, 200);
    const listed = NodeList.parse(await (await s.get("/v1/nodes")).json()).nodes.map((n) => [n.nodeId, n.region]).sort();
    assert.deepEqual(listed, [["any-1", "ap-south-1"], ["eu-1", EU], ["us-1", "us-east-1"]]);

    const metrics = await (await s.get("/metrics", { token: null })).text();
    assert.match(metrics, /enclave_scheduler_heartbeats_total\{result="forbidden",component="scheduler"\} 2\n/);
  });

  it("rejects invalid reports with 400 and the issues, and stores nothing", async (t) => {
    const redis = await startTestRedis(t);
    const s = await startTestScheduler(t, { redisUrl: redis.url, nodes: ["eu-1", "eu-2"] });

    const bad = await errorOf(await s.heartbeat({ ...node("eu-1", EU, "EU"), region: "Not A Region", gpus: [{ index: -1 }] }, { nodeId: "eu-1" }));
    assert.equal(bad.status, 400);
    assert.equal(bad.code, "invalid_request");
    assert.match(bad.message, /^invalid node report: /);
    assert.match(bad.message, /region: /);
    assert.match(bad.message, /gpus\[0\]\.index: /);

    const spoof = await errorOf(await s.heartbeat(node("eu-2", EU, "EU"), { nodeId: "eu-1" }));
    assert.deepEqual([spoof.status, spoof.message], [400, 'invalid node report: nodeId "eu-2" in a heartbeat for node "eu-1"']);

    const ref = { deployment: "d", region: EU, replica: 0, generation: 0 };
    const foreign = await errorOf(await s.heartbeat(node("eu-1", EU, "EU", { backends: [backend("eu-2", ref)] })));
    assert.equal(foreign.status, 400);
    assert.match(foreign.message, /backend eu-2\/d\/eu-central-1\/0\/g0 of node "eu-2"/);

    const notJson = await errorOf(await s.heartbeat("{not json", { nodeId: "eu-1" }));
    assert.deepEqual([notJson.status, notJson.code], [400, "invalid_request"]);

    const huge = { ...node("eu-1", EU, "EU"), agentVersion: "x", padding: "y".repeat(1024 * 1024) };
    const tooBig = await errorOf(await s.heartbeat(huge));
    assert.deepEqual([tooBig.status, tooBig.code], [413, "payload_too_large"]);

    const list = NodeList.parse(await (await s.get("/v1/nodes")).json());
    assert.deepEqual(list.nodes, []);

    const metrics = await (await s.get("/metrics", { token: null })).text();
    assert.match(metrics, /enclave_scheduler_heartbeats_total\{result="invalid",component="scheduler"\} 5\n/);
    assert.doesNotMatch(metrics, /enclave_scheduler_heartbeats_total\{result="ok"/);
  });

  it("lists live nodes to viewers and operators, with when each report arrived, their state and replicas", async (t) => {
    const redis = await startTestRedis(t);
    const s = await startTestScheduler(t, { redisUrl: redis.url, nodes: ["eu-1", "us-1"] });
    const before = Date.now();
    assert.equal((await s.heartbeat(node("us-1", "us-east-1", "US"))).status, 200);
    assert.equal((await s.heartbeat(node("eu-1", EU, "EU", { gpus: 2 }))).status, 200);

    assert.equal((await s.get("/v1/nodes", { token: null })).status, 401);
    assert.equal((await s.get("/v1/nodes", { token: s.nodeTokens.get("eu-1") ?? "" })).status, 403);
    const r = await s.get("/v1/nodes");
    assert.equal(r.status, 200);
    const list = NodeList.parse(await r.json());
    assert.deepEqual(list.nodes.map((n) => [n.nodeId, n.region, n.gpus.length]), [
      ["eu-1", EU, 2],
      ["us-1", "us-east-1", 4],
    ]);
    for (const n of list.nodes) assert.ok(n.receivedAt >= before && n.receivedAt <= Date.now());
    assert.deepEqual(list.nodes.map((n) => [n.state, n.cordon, n.replicas]), [
      ["ready", null, []],
      ["ready", null, []],
    ]);
    assert.equal((await s.get("/v1/nodes", { token: s.readerToken })).status, 403, "the gateway's token reads routes only");

    const metrics = await (await s.get("/metrics", { token: null })).text();
    assert.match(metrics, /enclave_scheduler_heartbeats_total\{result="ok",component="scheduler"\} 2/);
    // Each live node's heartbeat age, once a route refresh has read the registry.
    const ages = await waitFor(
      async () => {
        const text = await (await s.get("/metrics", { token: null })).text();
        const found = [...text.matchAll(/^enclave_scheduler_node_heartbeat_age_seconds\{node="([^"]+)",region="([^"]+)",component="scheduler"\} (\S+)$/gm)].map((m) => [m[1], m[2], Number(m[3])] as const);
        return found.length === 2 ? found : undefined;
      },
      { timeoutMs: 10_000, intervalMs: 50, what: "heartbeat ages for both nodes" },
    );
    assert.deepEqual(ages.map(([n, r]) => [n, r]).sort(), [["eu-1", EU], ["us-1", "us-east-1"]]);
    for (const [, , age] of ages) assert.ok(age >= 0 && age < 10, `age ${age}`);
  });
});

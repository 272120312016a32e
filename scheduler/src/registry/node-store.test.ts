import assert from "node:assert/strict";
import { describe, it } from "node:test";
import { createLogger, waitFor } from "@enclave/runtime";
import { Redis } from "ioredis";
import { keys } from "../redis-keys.js";
import { node } from "../testing/fixtures.js";
import { defer, startTestRedis } from "../testing/harness.js";
import { NodeStore } from "./node-store.js";

const EU = "eu-central-1";
const log = createLogger("node-store-test", "silent");

describe("NodeStore", () => {
  it("one replica sees the reports another stored, each newer one once, and forgets expired or unreadable ones", async (t) => {
    const redis = await startTestRedis(t);
    const conn = new Redis(redis.url);
    defer(t, () => conn.disconnect());
    const a = new NodeStore(conn, 600, log);
    const b = new NodeStore(conn, 600, log);
    const now = Date.now();
    await a.put(node("eu-1", EU, "EU", { gpus: 1 }), now);
    await a.put(node("eu-2", EU, "EU", { gpus: 2 }), now);
    assert.deepEqual((await b.live(now)).map((n) => [n.nodeId, n.gpus.length]), [["eu-1", 1], ["eu-2", 2]]);

    let gets = 0;
    const mget = conn.mget.bind(conn);
    conn.mget = ((...args: Parameters<typeof conn.mget>) => {
      gets += (args[0] as unknown as string[]).length;
      return mget(...args);
    }) as typeof conn.mget;
    await b.live(now);
    assert.equal(gets, 0, "nothing changed: nothing fetched");
    await a.put(node("eu-1", EU, "EU", { gpus: 3 }), now + 1);
    assert.deepEqual((await b.live(now + 1)).map((n) => [n.nodeId, n.gpus.length]), [["eu-1", 3], ["eu-2", 2]]);
    assert.equal(gets, 1, "only the changed report fetched");

    await conn.set(keys.node("eu-2"), "{not json", "PX", 600);
    await conn.zadd(keys.nodes, now + 700, "eu-2");
    assert.deepEqual((await b.live(now + 1)).map((n) => n.nodeId), ["eu-1"], "an unreadable report is ignored");
    await waitFor(async () => (await b.live()).length === 0 && (await conn.zcard(keys.nodes)) === 0, { timeoutMs: 5000, what: "both expired and swept" });
  });
});

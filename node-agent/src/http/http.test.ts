import assert from "node:assert/strict";
import { createServer, type Server } from "node:http";
import type { AddressInfo } from "node:net";
import { describe, test, type TestContext } from "node:test";
import { Registry, Gauge } from "prom-client";
import { HttpClient } from "./http-client.js";
import { startObservabilityServer } from "./observability-server.js";

async function listen(t: TestContext, s: Server): Promise<string> {
  await new Promise<void>((r) => s.listen(0, "127.0.0.1", r));
  t.after(() => new Promise<void>((r) => { s.close(() => r()); s.closeAllConnections(); }));
  return `http://127.0.0.1:${(s.address() as AddressInfo).port}`;
}

describe("agent HTTP", () => {
  test("observability server: /healthz, /readyz as readiness says, /metrics in Prometheus text, 404 otherwise", async (t) => {
    const registry = new Registry();
    new Gauge({ name: "enclave_test_value", help: "a value", registers: [registry] }).set(7);
    let why: string | undefined = "no heartbeat accepted by the scheduler yet";
    const s = await startObservabilityServer({ host: "127.0.0.1", port: 0, registry, notReadyBecause: () => why });
    t.after(() => s.close());
    const url = `http://127.0.0.1:${s.port}`;
    const health = await fetch(`${url}/healthz`);
    assert.deepEqual([health.status, await health.json()], [200, { status: "ok" }]);
    const notReady = await fetch(`${url}/readyz`);
    assert.deepEqual([notReady.status, await notReady.json()], [503, { status: "not ready", reason: why }]);
    why = undefined;
    const ready = await fetch(`${url}/readyz?verbose=1`);
    assert.deepEqual([ready.status, await ready.json()], [200, { status: "ready" }]);
    const metrics = await fetch(`${url}/metrics`);
    assert.equal(metrics.status, 200);
    assert.match(metrics.headers.get("content-type") ?? "", /^text\/plain; version=0\.0\.4/);
    assert.match(await metrics.text(), /^enclave_test_value 7$/m);
    const head = await fetch(`${url}/metrics`, { method: "HEAD" });
    assert.equal(head.status, 200);
    assert.equal(await head.text(), "");
    for (const [method, path] of [["GET", "/"], ["GET", "/metricsx"], ["POST", "/metrics"]] as const) {
      const r = await fetch(`${url}${path}`, { method });
      assert.equal(r.status, 404, `${method} ${path}`);
      assert.equal(((await r.json()) as { error: string }).error, "Not Found");
    }
    await s.close();
    await assert.rejects(fetch(`${url}/healthz`), "closed");
  });

  test("client: keep-alive reuse, a bounded answer, a deadline, an abort, a refused connection", async (t) => {
    const sockets = new Set<unknown>();
    const url = await listen(
      t,
      createServer((req, res) => {
        sockets.add(req.socket);
        if (req.url === "/big") return res.end("x".repeat(10_000));
        if (req.url === "/hang") return;
        const chunks: Buffer[] = [];
        req.on("data", (c: Buffer) => chunks.push(c));
        req.on("end", () => res.end(`${req.method} ${Buffer.concat(chunks).toString()}`));
      }),
    );
    const c = new HttpClient({ timeoutMs: 300, idleMs: 5000 });
    t.after(() => c.close());
    assert.deepEqual(await c.request(`${url}/a`, { method: "POST", body: "hello", maxBodyBytes: 100 }), { status: 200, body: "POST hello", truncated: false });
    await c.request(`${url}/a`, { method: "GET", maxBodyBytes: 100 });
    assert.equal(sockets.size, 1, "the second call reused the connection");
    const big = await c.request(`${url}/big`, { method: "GET", maxBodyBytes: 1000 });
    assert.deepEqual([big.truncated, big.body.length], [true, 1000]);
    const started = Date.now();
    await assert.rejects(c.request(`${url}/hang`, { method: "GET", maxBodyBytes: 100 }), /no answer within 300 ms/);
    assert.ok(Date.now() - started < 2000);
    const ac = new AbortController();
    const aborted = c.request(`${url}/hang`, { method: "GET", maxBodyBytes: 100, signal: ac.signal });
    ac.abort();
    await assert.rejects(aborted, /aborted/);
    await assert.rejects(c.request("http://127.0.0.1:1/", { method: "GET", maxBodyBytes: 100 }), /ECONNREFUSED/);
    assert.equal((await c.request(`${url}/a`, { method: "GET", maxBodyBytes: 100 })).body, "GET ", "still usable after failures");
  });

  test("client: a request on a kept-alive connection the server drops is retried once on a fresh one", async (t) => {
    // What a server closing an idle connection just as the client reuses it looks like: the request is cut off unanswered.
    const perSocket = new Map<unknown, number>();
    const server = createServer((req, res) => {
      const n = (perSocket.get(req.socket) ?? 0) + 1;
      perSocket.set(req.socket, n);
      if (n === 2) return req.socket.destroy();
      res.end("ok");
    });
    const url = await listen(t, server);
    const c = new HttpClient({ timeoutMs: 2000, idleMs: 60_000 });
    t.after(() => c.close());
    await c.request(url, { method: "GET", maxBodyBytes: 100 });
    assert.equal((await c.request(url, { method: "POST", body: "{}", maxBodyBytes: 100 })).body, "ok");
    assert.deepEqual([...perSocket.values()], [2, 1], "cut off on the reused connection, answered on a new one");
  });

  test("client: a fresh connection cut off is an error, not retried", async (t) => {
    let calls = 0;
    const url = await listen(t, createServer((req) => { calls++; req.socket.destroy(); }));
    const c = new HttpClient({ timeoutMs: 2000, idleMs: 60_000 });
    t.after(() => c.close());
    await assert.rejects(c.request(url, { method: "GET", maxBodyBytes: 100 }), /socket hang up|ECONNRESET/);
    assert.equal(calls, 1);
  });
});

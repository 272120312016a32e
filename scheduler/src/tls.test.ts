import assert from "node:assert/strict";
import { mkdtempSync, readFileSync, rmSync } from "node:fs";
import { request } from "node:https";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { describe, it } from "node:test";
import { defer, startTestRedis, startTestScheduler } from "./testing/harness.js";
import { makeTlsFiles } from "./testing/tls-files.js";

function get(url: string, opts: { ca?: Buffer; token?: string }): Promise<{ status: number; body: string }> {
  return new Promise((resolve, reject) => {
    const req = request(url, { ...(opts.ca ? { ca: opts.ca } : {}), headers: opts.token ? { authorization: `Bearer ${opts.token}` } : {}, timeout: 5000 }, (res) => {
      let body = "";
      res.setEncoding("utf8");
      res.on("data", (c: string) => (body += c));
      res.on("end", () => resolve({ status: res.statusCode ?? 0, body }));
    });
    req.on("error", reject);
    req.on("timeout", () => req.destroy(new Error("timeout")));
    req.end();
  });
}

describe("scheduler TLS", () => {
  it("serves its API over TLS from certificate and key files; a client verifies it against the CA file", async (t) => {
    const dir = mkdtempSync(join(tmpdir(), "enclave-sched-tls-"));
    defer(t, () => rmSync(dir, { recursive: true, force: true }));
    const tls = makeTlsFiles(dir);
    const redis = await startTestRedis(t);
    const s = await startTestScheduler(t, { redisUrl: redis.url, nodes: ["eu-1"], tls: { certFile: tls.certFile, keyFile: tls.keyFile } });
    assert.match(s.url, /^https:\/\//);
    const ca = readFileSync(tls.caFile);
    assert.equal((await get(`${s.url}/healthz`, { ca })).status, 200);
    const nodes = await get(`${s.url}/v1/nodes`, { ca, token: s.viewerToken });
    assert.deepEqual([nodes.status, JSON.parse(nodes.body)], [200, { nodes: [] }]);
    await assert.rejects(get(`${s.url}/healthz`, {}), /self[- ]signed|unable to verify|certificate/i, "not trusted without the CA");
  });

  it("serves metrics on a second, metrics-only listener over the same TLS: the API is not there, whatever the token", async (t) => {
    const dir = mkdtempSync(join(tmpdir(), "enclave-sched-tls-"));
    defer(t, () => rmSync(dir, { recursive: true, force: true }));
    const tls = makeTlsFiles(dir);
    const redis = await startTestRedis(t);
    const s = await startTestScheduler(t, { redisUrl: redis.url, nodes: ["eu-1"], tls: { certFile: tls.certFile, keyFile: tls.keyFile }, metricsListen: { host: "127.0.0.1", port: 0 } });
    const m = s.scheduler.metricsUrl!;
    assert.match(m, /^https:\/\//);
    assert.notEqual(m, s.url);
    const ca = readFileSync(tls.caFile);
    const metrics = await get(`${m}/metrics`, { ca });
    assert.equal(metrics.status, 200);
    assert.match(metrics.body, /^enclave_scheduler_reconcile_duration_seconds_bucket/m);
    assert.equal((await get(`${m}/readyz`, { ca })).status, 200);
    for (const [path, token] of [["/v1/routes", s.readerToken], ["/v1/nodes", s.operatorToken], ["/v1/deployments", s.operatorToken]] as const) {
      assert.equal((await get(`${m}${path}`, { ca, token })).status, 404, `${path} is not served on the metrics listener`);
    }
    assert.equal((await get(`${s.url}/v1/nodes`, { ca, token: s.viewerToken })).status, 200, "the API listener still serves it");
  });

  it("refuses to start when a certificate file cannot be read, naming it", async (t) => {
    const redis = await startTestRedis(t);
    await assert.rejects(
      startTestScheduler(t, { redisUrl: redis.url, nodes: [], tls: { certFile: "/nonexistent/cert.pem", keyFile: "/nonexistent/key.pem" } }),
      /tls\.certFile \/nonexistent\/cert\.pem: cannot read \(ENOENT\)/,
    );
  });
});

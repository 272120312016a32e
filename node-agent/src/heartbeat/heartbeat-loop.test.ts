import assert from "node:assert/strict";
import { spawnSync } from "node:child_process";
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { createServer, type IncomingMessage } from "node:http";
import { createServer as createHttpsServer } from "node:https";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { describe, test, type TestContext } from "node:test";
import type { NodeReport } from "@enclave/contracts";
import { createLogger, waitFor } from "@enclave/runtime";
import { HeartbeatLoop, type HeartbeatResult } from "./heartbeat-loop.js";

const log = createLogger("heartbeat-test", "silent");
const REPORT: NodeReport = {
  nodeId: "gpu-1",
  region: "eu-central-1",
  jurisdiction: "EU",
  time: 1,
  agentVersion: "0.1.0",
  health: { state: "healthy", reasons: [] },
  gpus: [],
  backends: [],
};

/** A server that records requests and answers as told (or not at all). */
async function server(t: TestContext, answer: (req: IncomingMessage) => number | "hang") {
  const seen: { url: string; auth: string | undefined; body: unknown; at: number }[] = [];
  const s = createServer((req, res) => {
    const chunks: Buffer[] = [];
    req.on("data", (c: Buffer) => chunks.push(c));
    req.on("end", () => {
      seen.push({ url: req.url ?? "", auth: req.headers.authorization, body: JSON.parse(Buffer.concat(chunks).toString() || "null"), at: Date.now() });
      const status = answer(req);
      if (status === "hang") return;
      res.writeHead(status, { "content-type": "application/json" });
      res.end("{}");
    });
  });
  await new Promise<void>((r) => s.listen(0, "127.0.0.1", r));
  t.after(
    () =>
      new Promise<void>((r) => {
        s.close(() => r());
        s.closeAllConnections();
      }),
  );
  const addr = s.address();
  return { url: `http://127.0.0.1:${typeof addr === "object" && addr ? addr.port : 0}/v1/nodes/gpu-1/heartbeat`, seen };
}

/** A throw-away CA and a certificate for 127.0.0.1 it signed, made with the real openssl. */
function tlsFiles(t: TestContext): { ca: string; cert: string; key: string } {
  const dir = mkdtempSync(join(tmpdir(), "enclave-hb-tls-"));
  t.after(() => rmSync(dir, { recursive: true, force: true }));
  const f = (n: string) => join(dir, n);
  writeFileSync(f("san.ext"), "subjectAltName=IP:127.0.0.1\n");
  const key = ["-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:prime256v1", "-nodes"];
  for (const args of [
    ["req", "-x509", ...key, "-keyout", f("ca.key"), "-out", f("ca.pem"), "-days", "2", "-subj", "/CN=test-ca"],
    ["req", ...key, "-keyout", f("s.key"), "-out", f("s.csr"), "-subj", "/CN=127.0.0.1"],
    ["x509", "-req", "-in", f("s.csr"), "-CA", f("ca.pem"), "-CAkey", f("ca.key"), "-CAcreateserial", "-out", f("s.pem"), "-days", "2", "-extfile", f("san.ext")],
  ]) {
    const r = spawnSync("openssl", args, { encoding: "utf8", timeout: 20000 });
    assert.equal(r.status, 0, `openssl ${args[0]}: ${r.stderr}`);
  }
  return { ca: f("ca.pem"), cert: f("s.pem"), key: f("s.key") };
}

function loop(t: TestContext, url: string, over: Partial<{ intervalMs: number; timeoutMs: number; report: () => NodeReport; caFile: string }> = {}) {
  const results: HeartbeatResult[] = [];
  const hb = new HeartbeatLoop({
    url,
    caFile: over.caFile,
    token: "tok-123",
    intervalMs: over.intervalMs ?? 60_000,
    timeoutMs: over.timeoutMs ?? 2000,
    debounceMs: 20,
    collect: async () => (over.report ?? (() => REPORT))(),
    onResult: (r) => results.push(r),
    log,
  });
  t.after(() => hb.close());
  return { hb, results };
}

describe("heartbeat loop", () => {
  test("sends at once, then every interval, with the bearer token and the report as JSON", async (t) => {
    const s = await server(t, () => 200);
    const { hb, results } = loop(t, s.url, { intervalMs: 100 });
    hb.start();
    await waitFor(() => results.length >= 3, { timeoutMs: 5000, what: "three heartbeats" });
    assert.deepEqual(results.slice(0, 3), ["ok", "ok", "ok"]);
    assert.equal(s.seen[0]?.auth, "Bearer tok-123");
    assert.deepEqual(s.seen[0]?.body, REPORT);
    const gap = (s.seen[2]?.at ?? 0) - (s.seen[1]?.at ?? 0);
    assert.ok(gap >= 90, `paced by the interval (${gap} ms)`);
  });

  test("trigger() sends early, and a burst of triggers makes one or two heartbeats, not one each", async (t) => {
    const s = await server(t, () => 200);
    const { hb, results } = loop(t, s.url, { intervalMs: 60_000 });
    hb.start();
    await waitFor(() => results.length === 1, { timeoutMs: 5000, what: "first heartbeat" });
    for (let i = 0; i < 20; i++) hb.trigger();
    await waitFor(() => results.length >= 2, { timeoutMs: 5000, what: "the triggered heartbeat" });
    // Anything further would have to come from the same burst; give it a chance to show.
    hb.trigger();
    await waitFor(() => results.length >= 3, { timeoutMs: 5000, what: "one more trigger" });
    assert.ok(results.length <= 4, `${results.length} heartbeats for 21 triggers`);
  });

  test("non-2xx answers are rejected, a silent scheduler is an error after the timeout, and the loop goes on", async (t) => {
    let status: number | "hang" = 401;
    const s = await server(t, () => status);
    const { hb, results } = loop(t, s.url, { intervalMs: 50, timeoutMs: 200 });
    hb.start();
    await waitFor(() => results.includes("rejected"), { timeoutMs: 5000, what: "rejected" });
    status = "hang";
    await waitFor(() => results.includes("error"), { timeoutMs: 5000, what: "timed out" });
    status = 200;
    await waitFor(() => results.at(-1) === "ok", { timeoutMs: 5000, what: "ok again" });
  });

  test("a report that breaks the schema is not sent", async (t) => {
    const s = await server(t, () => 200);
    const { hb, results } = loop(t, s.url, { intervalMs: 50, report: () => ({ ...REPORT, region: "Not A Region" }) });
    hb.start();
    await waitFor(() => results.length >= 2, { timeoutMs: 5000, what: "two attempts" });
    assert.deepEqual([...new Set(results)], ["invalid"]);
    assert.equal(s.seen.length, 0);
  });

  test("an https scheduler is verified against the CA file: trusted with it, an error without it", async (t) => {
    const tls = tlsFiles(t);
    const s = createHttpsServer({ cert: readFileSync(tls.cert), key: readFileSync(tls.key) }, (req, res) => {
      req.resume();
      req.on("end", () => res.writeHead(200, { "content-type": "application/json" }).end("{}"));
    });
    await new Promise<void>((r) => s.listen(0, "127.0.0.1", r));
    t.after(() => new Promise<void>((r) => { s.close(() => r()); s.closeAllConnections(); }));
    const addr = s.address();
    const url = `https://127.0.0.1:${typeof addr === "object" && addr ? addr.port : 0}/v1/nodes/gpu-1/heartbeat`;
    const trusted = loop(t, url, { intervalMs: 50, caFile: tls.ca });
    trusted.hb.start();
    await waitFor(() => trusted.results.includes("ok"), { timeoutMs: 5000, what: "a heartbeat accepted over TLS" });
    const untrusted = loop(t, url, { intervalMs: 50 });
    untrusted.hb.start();
    await waitFor(() => untrusted.results.length >= 1, { timeoutMs: 5000, what: "an attempt" });
    assert.equal(untrusted.results[0], "error");
    assert.throws(() => loop(t, url, { caFile: "/nonexistent/ca.pem" }), /scheduler\.caFile \/nonexistent\/ca\.pem: cannot read \(ENOENT\)/);
  });

  test("close() ends the loop: nothing is sent afterwards", async (t) => {
    const s = await server(t, () => 200);
    const { hb, results } = loop(t, s.url, { intervalMs: 20 });
    hb.start();
    await waitFor(() => results.length >= 1, { timeoutMs: 5000, what: "a heartbeat" });
    await hb.close();
    const n = s.seen.length;
    hb.trigger();
    // Proving an absence needs a window: five intervals in which a live loop would have sent.
    await new Promise((r) => setTimeout(r, 100));
    assert.equal(s.seen.length, n);
  });
});

#!/usr/bin/env node
/**
 * One engine client in a closed loop (64 requests in flight) against ENGINE_URL:
 * `node client-loop.js node-http|enclave ENGINE_URL REQUESTS` prints one JSON line with its
 * CPU µs per request (user + system, this process only) and requests per second.
 */
import { Agent, request as httpRequest } from "node:http";
import { Cancel } from "@enclave/gateway/upstream/cancel";
import { createUpstreamClient } from "@enclave/gateway/upstream/client";

const [mode, engineUrl, n] = process.argv.slice(2);
const u = new URL(engineUrl ?? "");
const REQUESTS = Number(n ?? 20000);
const IN_FLIGHT = 64;
const BODY = Buffer.from(JSON.stringify({ model: "bench-model", max_tokens: 1, messages: [{ role: "user", content: "Hello! Could you summarise the main points of our meeting notes from Tuesday, please?" }] }));
const HEADERS = { "content-type": "application/json", accept: "*/*" };

let one: () => Promise<void>;
if (mode === "node-http") {
  // As the gateway's client was before: node:http with a keep-alive agent.
  const agent = new Agent({ keepAlive: true, timeout: 4000, maxFreeSockets: 1024, scheduling: "lifo" });
  one = () =>
    new Promise((resolve, reject) => {
      const req = httpRequest({ agent, host: u.hostname, port: u.port, path: "/v1/chat/completions", method: "POST", headers: { ...HEADERS, "content-length": String(BODY.length) } });
      req.on("error", reject);
      req.once("response", (r) => {
        r.on("data", () => undefined);
        r.on("end", resolve);
        r.on("error", reject);
      });
      req.end(BODY);
    });
} else if (mode === "enclave") {
  const client = createUpstreamClient({ connectMs: 5000, headersMs: 30000, bodyMs: 30000 });
  const target = { https: false, host: u.hostname, port: Number(u.port), basePath: "", origin: u.origin };
  one = async () => {
    const r = await client.request({ target, path: "/v1/chat/completions", headers: HEADERS, body: BODY, deadline: performance.now() + 60000, cancel: new Cancel() });
    await new Promise<void>((resolve, reject) => r.read({ data: () => undefined, end: resolve, error: reject }));
  };
} else {
  process.stderr.write(`unknown client ${mode}: node-http or enclave\n`);
  process.exit(2);
}

async function run(total: number): Promise<void> {
  let started = 0;
  await Promise.all(Array.from({ length: IN_FLIGHT }, async () => {
    while (started++ < total) await one();
  }));
}

await run(Math.min(5000, REQUESTS)); // warm-up: JIT and connections
const cpu0 = process.cpuUsage();
const t0 = performance.now();
await run(REQUESTS);
const cpu = process.cpuUsage(cpu0);
const seconds = (performance.now() - t0) / 1000;
process.stdout.write(JSON.stringify({ client: mode, cpu_us_per_req: (cpu.user + cpu.system) / REQUESTS, rps: REQUESTS / seconds }) + "\n");
process.exit(0);

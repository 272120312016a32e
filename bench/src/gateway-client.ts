import { spawnSync } from "node:child_process";
import { fileURLToPath } from "node:url";
import type { BenchPart } from "./part.js";
import { benchCores, median, round, startZeroLatencyEngine, taskset } from "./gateway.js";

/*
 * The gateway's engine client (HTTP/1.1 on its own sockets) against node:http's client with a
 * keep-alive agent, each alone in a process pinned to the last core, in a closed loop of 64
 * requests against the zero-latency engine simulator on the other cores. Interleaved
 * repetitions; CPU µs per request of the client process, and the ratio.
 */

const REPS = Number(process.env.BENCH_CLIENT_REPS ?? 3);
const REQUESTS = Number(process.env.BENCH_CLIENT_REQUESTS ?? 20000);
const here = (p: string) => fileURLToPath(new URL(p, import.meta.url));
const CLIENTS = ["node-http", "enclave"] as const;

export const gatewayClientBench: BenchPart = {
  name: "gateway-client",
  describe: "the gateway's engine client vs node:http's client: CPU µs per request in a closed loop",
  async run(ctx) {
    const { last: clientCore, others: otherCores } = benchCores();
    const engine = await startZeroLatencyEngine(otherCores);
    try {
      const cpu = new Map<string, number[]>();
      const rps = new Map<string, number[]>();
      for (let rep = 0; rep < REPS; rep++) {
        for (const c of CLIENTS) {
          const argv = taskset(clientCore, [process.execPath, here("./gateway/client-loop.js"), c, engine.url, String(REQUESTS)]);
          const r = spawnSync(argv[0]!, argv.slice(1), { encoding: "utf8", timeout: 120_000 });
          if (r.status !== 0) throw new Error(`client loop ${c} failed: ${r.error?.message ?? r.stderr}`);
          const out = JSON.parse(r.stdout.trim().split("\n").pop()!) as { cpu_us_per_req: number; rps: number };
          cpu.set(c, [...(cpu.get(c) ?? []), out.cpu_us_per_req]);
          rps.set(c, [...(rps.get(c) ?? []), out.rps]);
        }
      }
      ctx.print(`   ${"client".padEnd(10)} ${"CPU µs/req".padStart(11)} ${"req/s".padStart(8)}`);
      for (const c of CLIENTS) {
        const line = { client: c, cpu_us_per_req: round(median(cpu.get(c)!), 1), rps: round(median(rps.get(c)!), 0) };
        ctx.print(`   ${c.padEnd(10)} ${String(line.cpu_us_per_req).padStart(11)} ${String(line.rps).padStart(8)}`);
        ctx.emit(line);
      }
      const ratio = round(median(cpu.get("enclave")!) / median(cpu.get("node-http")!), 3);
      ctx.print(`   enclave / node-http CPU per request: ${ratio} (${REPS} interleaved repetitions, ${REQUESTS} requests each; client on core ${clientCore})`);
      ctx.emit({ client: "ratio", enclave_cpu_vs_node_http: ratio });
    } finally {
      await engine.stop();
    }
  },
};

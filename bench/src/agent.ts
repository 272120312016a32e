import { spawn, spawnSync, type ChildProcess } from "node:child_process";
import { mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { createServer, request, type Server } from "node:http";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { createInterface } from "node:readline";
import { fileURLToPath } from "node:url";
import { delay, startRedisServer, stopChild, waitFor } from "@enclave/runtime";
import type { BenchPart } from "./part.js";

/*
 * The node-agent's own cost while it watches 8 GPUs: a real `enclave agent` process polls a
 * fake nvidia-smi (a real H100 capture made into 8 GPUs, node-agent/fixtures) at 1 Hz, with
 * the full XML read every 60 s, heartbeats every 2 s to a stub scheduler, and a Prometheus
 * scrape every 15 s. The fast read is the agent's default, one long-running `nvidia-smi -lms`
 * (one call per read when the config turns `loop` off). Measured over the run: the agent
 * process's CPU time as a share of one core and in seconds (nvidia-smi's own CPU reported
 * apart) and its resident memory; the same agent not polling its GPUs is measured first, so
 * what the polling adds is visible. Goals: <= 1% of a core, <= 80 MB RSS.
 */

const SECONDS = Number(process.env.BENCH_AGENT_SECONDS ?? 60);
const WARMUP_SECONDS = 5;
const GPUS = 8;
const here = (p: string) => fileURLToPath(new URL(p, import.meta.url));
const ROOT = here("../../");

/** What the bench uses of node-agent's fake nvidia-smi (loaded from the build, as the CLI is). */
interface FakeModule {
  FakeNvidiaSmi: new (o: { csv: string; xml: string }) => FakeSmi;
  fixture(...parts: string[]): string;
  replicateCsv(csv: string, count: number): string;
  retargetXml(xml: string, gpu: { uuid: string; pciBusId: string }): string;
}

interface FakeSmi {
  path: string;
  calls(): string[];
  loopRounds(): number;
  remove(): void;
}

interface Measurement {
  seconds: number;
  /** Query readings nvidia-smi printed: one per single call, one per round of a loop (`-lms`). */
  queryReads: number;
  queryCalls: number;
  detailReads: number;
  gpusInMetrics: number;
  agentCpuPct: number;
  agentCpuSeconds: number;
  childrenCpuPct: number;
  rssMaxMb: number;
  rssMeanMb: number;
  anonMeanMb: number;
}

export const agentBench: BenchPart = {
  name: "agent",
  describe: `node-agent CPU share of one core and RSS while polling ${GPUS} GPUs (fake nvidia-smi) at 1 Hz for ${SECONDS} s, against the same agent not polling`,
  async run(ctx) {
    const m = (await import(join(ROOT, "node-agent/dist/test-support/fake-nvidia-smi.js"))) as FakeModule;
    const fake = new m.FakeNvidiaSmi({
      csv: m.replicateCsv(m.fixture("nvidia-smi", "query-gpu", "h100-80gb-hbm3_590.48.01_load.csv"), GPUS),
      xml: m.retargetXml(m.fixture("nvidia-smi", "xml", "rtx-pro-6000-blackwell-maxq_590.44.01.xml"), { uuid: "GPU-00000000-0000-0000-0000-000000000000", pciBusId: "00000000:18:00.0" }),
    });
    const redis = await startRedisServer();
    try {
      // The same agent, once reading the GPUs only at start (what everything else costs), once at 1 Hz.
      const idle = await measure(fake, redis.url, 3_600_000);
      const polling = await measure(fake, redis.url, 1000);
      const line = (name: string, r: Measurement) =>
        ctx.print(
          `  ${name.padEnd(22)} agent CPU ${r.agentCpuPct.toFixed(2).padStart(5)}% of one core (${r.agentCpuSeconds.toFixed(2)} s), nvidia-smi ${r.childrenCpuPct.toFixed(2)}%, RSS max ${r.rssMaxMb.toFixed(1)} MB / mean ${r.rssMeanMb.toFixed(1)} MB (private ${r.anonMeanMb.toFixed(1)} MB); ${r.queryReads} query readings (${r.queryCalls} nvidia-smi starts) + ${r.detailReads} XML reads in ${r.seconds.toFixed(0)} s`,
        );
      line("not polling GPUs", idle);
      line(`polling ${GPUS} GPUs at 1 Hz`, polling);
      ctx.print(`  GPU polling itself: +${(polling.agentCpuPct - idle.agentCpuPct).toFixed(2)}% of one core, +${(polling.rssMeanMb - idle.rssMeanMb).toFixed(1)} MB mean RSS`);
      ctx.print(`  goals: <= 1% of one core ${polling.agentCpuPct <= 1 ? "met" : "MISSED"}, <= 80 MB RSS ${polling.rssMaxMb <= 80 ? "met" : "MISSED"} (the whole agent process: heartbeats every 2 s, job queue, /metrics scrapes every 15 s)`);
      for (const [run, r] of [["idle", idle], ["polling", polling]] as const) {
        ctx.emit({
          run,
          gpus: GPUS,
          gpus_in_metrics: r.gpusInMetrics,
          seconds: Number(r.seconds.toFixed(1)),
          query_reads: r.queryReads,
          query_calls: r.queryCalls,
          detail_reads: r.detailReads,
          agent_cpu_pct_of_core: Number(r.agentCpuPct.toFixed(3)),
          agent_cpu_seconds: Number(r.agentCpuSeconds.toFixed(3)),
          children_cpu_pct_of_core: Number(r.childrenCpuPct.toFixed(3)),
          rss_max_mb: Number(r.rssMaxMb.toFixed(1)),
          rss_mean_mb: Number(r.rssMeanMb.toFixed(1)),
          rss_private_mean_mb: Number(r.anonMeanMb.toFixed(1)),
          goal_cpu_pct: 1,
          goal_rss_mb: 80,
        });
      }
    } finally {
      await redis.stop();
      fake.remove();
    }
  },
};

/** One agent process, its GPUs polled every `intervalMs`, measured over SECONDS after warming up. */
async function measure(fake: FakeSmi, redisUrl: string, intervalMs: number): Promise<Measurement> {
  const dir = mkdtempSync(join(tmpdir(), "enclave-bench-agent-"));
  let scheduler: Server | undefined;
  let agent: ChildProcess | undefined;
  try {
    let heartbeats = 0;
    scheduler = createServer((req, res) => {
      req.resume();
      req.on("end", () => {
        if (req.method === "POST" && req.url?.endsWith("/heartbeat")) heartbeats++;
        res.writeHead(200, { "content-type": "application/json" }).end("{}");
      });
    });
    await new Promise<void>((resolve) => scheduler?.listen(0, "127.0.0.1", resolve));
    const address = scheduler.address();
    const schedulerPort = typeof address === "object" && address ? address.port : 0;
    writeFileSync(join(dir, "token"), "bench-node-token\n");
    const config = join(dir, "agent.yaml");
    writeFileSync(
      config,
      [
        "nodeId: bench-gpu-1",
        "region: eu-central-1",
        "jurisdiction: EU",
        "logLevel: info",
        "listen: { host: 127.0.0.1, port: 0 }",
        `scheduler: { url: "http://127.0.0.1:${schedulerPort}", token: { file: "${join(dir, "token")}" } }`,
        `redis: { url: "${redisUrl}" }`,
        `gpus: { source: nvidia-smi, nvidiaSmi: { path: "${fake.path}", intervalMs: ${intervalMs}, detailIntervalMs: 60000 } }`,
        "engines: { driver: process }",
        "",
      ].join("\n"),
    );

    agent = spawn(process.execPath, [join(ROOT, "cli/dist/main.js"), "agent", "--config", config], { stdio: ["ignore", "pipe", "pipe"] });
    const url = await agentUrl(agent);
    const pid = agent.pid ?? 0;
    await waitFor(() => heartbeats > 0, { timeoutMs: 20_000, what: "a heartbeat" });
    await delay(WARMUP_SECONDS * 1000);

    const tick = Number(spawnSync("getconf", ["CLK_TCK"]).stdout?.toString().trim() || "100");
    const before = cpuTicks(pid);
    const liveBefore = liveChildrenTicks(pid);
    const callsBefore = fake.calls().length;
    const roundsBefore = fake.loopRounds();
    const rss: number[] = [];
    const anon: number[] = [];
    const started = Date.now();
    let gpusInMetrics = 0;
    for (let s = 0; s < SECONDS; s++) {
      if (s % 15 === 0) {
        const text = await get(`${url}/metrics`);
        gpusInMetrics = text.split("\n").filter((l) => l.startsWith("DCGM_FI_DEV_GPU_TEMP{")).length;
      }
      const mem = memory(pid);
      rss.push(mem.rss);
      anon.push(mem.anon);
      await delay(Math.max(0, started + (s + 1) * 1000 - Date.now()));
    }
    const seconds = (Date.now() - started) / 1000;
    const after = cpuTicks(pid);
    const liveAfter = liveChildrenTicks(pid);
    const calls = fake.calls().slice(callsBefore);
    const queryCalls = calls.filter((c) => c.startsWith("--query-gpu"));
    const mean = (xs: number[]) => xs.reduce((a, b) => a + b, 0) / xs.length / 1e6;
    return {
      seconds,
      queryReads: queryCalls.filter((c) => !/ -lms \d+$/.test(c)).length + fake.loopRounds() - roundsBefore,
      queryCalls: queryCalls.length,
      detailReads: calls.filter((c) => c === "-q -x").length,
      gpusInMetrics,
      agentCpuPct: ((after.self - before.self) / tick / seconds) * 100,
      agentCpuSeconds: (after.self - before.self) / tick,
      // Reaped children, plus what the ones still running (an nvidia-smi loop) used in the window.
      childrenCpuPct: ((after.children - before.children + liveAfter - liveBefore) / tick / seconds) * 100,
      rssMaxMb: Math.max(...rss) / 1e6,
      rssMeanMb: mean(rss),
      anonMeanMb: mean(anon),
    };
  } finally {
    if (agent) await stopChild(agent, 10_000);
    await new Promise<void>((resolve) => (scheduler ? scheduler.close(() => resolve()) : resolve()));
    rmSync(dir, { recursive: true, force: true });
  }
}

/** The agent logs `agent running` with its URL once it listens. */
function agentUrl(child: ChildProcess): Promise<string> {
  return new Promise((resolve, reject) => {
    let err = "";
    const timer = setTimeout(() => reject(new Error(`agent did not start: ${err.slice(-500)}`)), 30_000);
    child.stderr?.on("data", (b: Buffer) => (err = (err + b.toString()).slice(-4000)));
    child.on("exit", (code) => reject(new Error(`agent exited with ${code}: ${err.slice(-500)}`)));
    createInterface({ input: child.stdout as NodeJS.ReadableStream }).on("line", (line) => {
      try {
        const l = JSON.parse(line) as { url?: string; msg?: string };
        if (l.msg === "agent running" && l.url) {
          clearTimeout(timer);
          resolve(l.url);
        }
      } catch {
        // not a log line
      }
    });
  });
}

/** utime+stime of the process and cutime+cstime of its reaped children, in clock ticks (proc(5)). */
function cpuTicks(pid: number): { self: number; children: number } {
  const stat = readFileSync(`/proc/${pid}/stat`, "utf8");
  const f = stat.slice(stat.lastIndexOf(")") + 2).split(" ");
  const n = (i: number) => Number(f[i - 3]);
  return { self: n(14) + n(15), children: n(16) + n(17) };
}

/** CPU clock ticks, their own and their reaped children's, of the processes whose parent is `pid` and that still run. */
function liveChildrenTicks(pid: number): number {
  let sum = 0;
  for (const entry of readdirSync("/proc")) {
    if (!/^\d+$/.test(entry)) continue;
    try {
      const stat = readFileSync(`/proc/${entry}/stat`, "utf8");
      const f = stat.slice(stat.lastIndexOf(")") + 2).split(" ");
      const n = (i: number) => Number(f[i - 3]);
      if (n(4) === pid) sum += n(14) + n(15) + n(16) + n(17);
    } catch {
      // gone meanwhile
    }
  }
  return sum;
}

/** Resident memory, and the part of it that is the process's own (heap, not the mapped node binary). */
function memory(pid: number): { rss: number; anon: number } {
  const status = readFileSync(`/proc/${pid}/status`, "utf8");
  const kb = (key: string) => Number(new RegExp(`^${key}:\\s+(\\d+) kB$`, "m").exec(status)?.[1] ?? 0) * 1024;
  return { rss: kb("VmRSS"), anon: kb("RssAnon") };
}

function get(url: string): Promise<string> {
  return new Promise((resolve, reject) => {
    const req = request(url, { timeout: 5000 }, (res) => {
      let body = "";
      res.setEncoding("utf8");
      res.on("data", (c: string) => (body += c));
      res.on("end", () => resolve(body));
    });
    req.on("timeout", () => req.destroy(new Error("timeout")));
    req.on("error", reject);
    req.end();
  });
}

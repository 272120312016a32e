import { spawn, spawnSync, type ChildProcess } from "node:child_process";
import { randomBytes, createHash } from "node:crypto";
import { mkdtempSync, readFileSync, rmSync, writeFileSync, existsSync } from "node:fs";
import { Agent, request } from "node:http";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { createInterface } from "node:readline";
import { fileURLToPath } from "node:url";
import { freePort, stopChild } from "@enclave/runtime";
import type { BenchContext, BenchPart } from "./part.js";

/*
 * The gateway against a bare Node reverse proxy and nginx, all in front of the same
 * zero-latency engine simulator. Each proxy runs pinned to one core (the last one);
 * the engine and the load generators share the others. Repetitions are interleaved
 * so drift hits every target alike. The gateway runs twice: with the default
 * `audit.spool.acknowledge: durable` (answers wait for the fsync) and with `written`
 * (answers wait for the write into the page cache). Goals (this machine): gateway RPS >= 0.75x the
 * bare Node proxy; added latency <= 0.4 ms p50 and <= 1 ms p99 at 500 RPS; added time
 * to first chunk <= 0.5 ms.
 */

const MODEL = "bench-model";
const REPS = Number(process.env.BENCH_GATEWAY_REPS ?? 3);
const RPS_SECONDS = Number(process.env.BENCH_GATEWAY_SECONDS ?? 4);
const FIXED_RPS = 500;
const FIXED_SECONDS = 3;
const STREAMS = 150;
/**
 * The spool's group-commit window for the gateway under test: the schema default, 2 ms. An
 * idle spool writes at once; a busy one writes at most once per window, fewer and fuller
 * batches. BENCH_GATEWAY_GROUP_COMMIT_MS=0 writes each batch as soon as the previous one is
 * on disk instead.
 */
const GROUP_COMMIT_MS = Number(process.env.BENCH_GATEWAY_GROUP_COMMIT_MS ?? 2);
/** `acknowledge: written`: answers wait only for the write; fdatasyncs are grouped by this window (what docs/gateway.md suggests). */
const WRITTEN_SYNC_MS = Number(process.env.BENCH_GATEWAY_WRITTEN_SYNC_MS ?? 10);
const here = (p: string) => fileURLToPath(new URL(p, import.meta.url));
const ROOT = here("../../");

const CHAT = JSON.stringify({ model: MODEL, max_tokens: 1, messages: [{ role: "system", content: "You are a helpful assistant." }, { role: "user", content: "Hello! Could you summarise the main points of our meeting notes from Tuesday, please?" }] });
const STREAM = JSON.stringify({ model: MODEL, max_tokens: 20, stream: true, messages: [{ role: "user", content: "Write twenty words about the sea." }] });

interface Target {
  name: string;
  url: string;
  pid: number | null;
  stop: () => Promise<void>;
}

interface Result {
  target: string;
  rps: number;
  /** During the max-RPS runs. */
  cpu_us_per_req: number | null;
  /** During the fixed-rate runs: every target at the same load, so batching differences do not skew it. */
  cpu_us_per_req_at_fixed_rps: number | null;
  added_p50_ms: number | null;
  added_p99_ms: number | null;
  added_ttfc_ms: number | null;
  /** Gateways only: how long answers waited for their audit record (group commit + fsync, or + write), at the fixed rate. */
  audit_acknowledge?: "durable" | "written";
  audit_wait_mean_ms?: number | null;
  audit_wait_p50_ms?: number | null;
  audit_wait_p99_ms?: number | null;
  group_commit_ms?: number;
}

export const gatewayBench: BenchPart = {
  name: "gateway",
  describe: "gateway (full policy path) vs bare Node proxy vs nginx: max RPS, added latency at 500 RPS, added time to first chunk, CPU per request",
  async run(ctx) {
    const { cores, last: proxyCore, others: otherCores } = benchCores();
    const dir = mkdtempSync(join(tmpdir(), "enclave-bench-gw-"));
    // This process is the fixed-rate and time-to-first-chunk load generator: it shares the
    // engine's cores, not the proxies' (left to the scheduler, it often ran beside them).
    const unpin = pinSelf(otherCores);
    const running: Target[] = [];
    try {
      const engine = await startZeroLatencyEngine(otherCores);
      running.push(engine);
      const key = `sk-bench-${randomBytes(12).toString("hex")}`;
      const gateway = await startGatewayTarget(dir, engine.url, key, proxyCore, "durable");
      running.push(gateway);
      const written = await startGatewayTarget(dir, engine.url, key, proxyCore, "written");
      running.push(written);
      const node = await launchUrl("node-proxy", taskset(proxyCore, [process.execPath, here("./gateway/node-proxy.js"), engine.url]), (l) => l.trim());
      running.push(node);
      const nginx = await startNginx(dir, engine.url, proxyCore, ctx);
      if (nginx) running.push(nginx);
      const direct: Target = { name: "direct", url: engine.url, pid: null, stop: async () => undefined };
      const targets = [direct, node, ...(nginx ? [nginx] : []), gateway, written];
      const gateways = [gateway, written];
      const auth = { authorization: `Bearer ${key}` };

      // Warm-up: JIT, connection pools, the audit file.
      for (const t of targets) await fixedRate(t.url, 300, 1, auth);

      const rps = new Map<string, number[]>();
      const cpu = new Map<string, number[]>();
      const cpuFixed = new Map<string, number[]>();
      const auditWait = new Map<string, Histo[]>();
      const p50 = new Map<string, number[]>();
      const p99 = new Map<string, number[]>();
      const ttfc = new Map<string, number[]>();
      const push = (m: Map<string, number[]>, k: string, v: number) => m.set(k, [...(m.get(k) ?? []), v]);
      for (let rep = 0; rep < REPS; rep++) {
        ctx.print(`   repetition ${rep + 1}/${REPS}`);
        for (const t of targets) {
          const before = t.pid ? cpuMicros(t.pid) : 0;
          const w = wrk(t.url, key, dir, otherCores);
          push(rps, t.name, w.rps);
          if (t.pid) push(cpu, t.name, (cpuMicros(t.pid) - before) / Math.max(1, w.requests));
          if (w.errors > 0) ctx.print(`   ${t.name}: ${w.errors} non-2xx answers during the RPS run`);
        }
        const lat = new Map<string, { p50: number; p99: number }>();
        for (const t of targets) {
          const before = t.pid ? cpuMicros(t.pid) : 0;
          const waitBefore = gateways.includes(t) ? await auditWaitHistogram(t.url) : null;
          const l = await fixedRate(t.url, FIXED_RPS, FIXED_SECONDS, auth);
          if (t.pid) push(cpuFixed, t.name, (cpuMicros(t.pid) - before) / Math.max(1, l.requests));
          if (waitBefore) auditWait.set(t.name, [...(auditWait.get(t.name) ?? []), diffHisto(await auditWaitHistogram(t.url), waitBefore)]);
          if (l.errors > 0) ctx.print(`   ${t.name}: ${l.errors} failed requests at ${FIXED_RPS} RPS`);
          lat.set(t.name, l);
        }
        const first = new Map<string, number>();
        for (const t of targets) first.set(t.name, await timeToFirstChunk(t.url, STREAMS, auth));
        for (const t of targets) {
          if (t === direct) continue;
          push(p50, t.name, lat.get(t.name)!.p50 - lat.get("direct")!.p50);
          push(p99, t.name, lat.get(t.name)!.p99 - lat.get("direct")!.p99);
          push(ttfc, t.name, first.get(t.name)! - first.get("direct")!);
        }
      }

      const waitOf = (name: string) => {
        const hs = auditWait.get(name) ?? [];
        return hs.reduce((a, b) => sumHisto(a, b), { buckets: hs[0]?.buckets.map((b) => ({ le: b.le, count: 0 })) ?? [], sum: 0, count: 0 });
      };
      const results: Result[] = targets.map((t) => ({
        target: t.name,
        rps: round(median(rps.get(t.name)!), 0),
        cpu_us_per_req: t.pid ? round(median(cpu.get(t.name)!), 1) : null,
        cpu_us_per_req_at_fixed_rps: t.pid ? round(median(cpuFixed.get(t.name)!), 1) : null,
        added_p50_ms: t === direct ? null : round(median(p50.get(t.name)!), 3),
        added_p99_ms: t === direct ? null : round(median(p99.get(t.name)!), 3),
        added_ttfc_ms: t === direct ? null : round(median(ttfc.get(t.name)!), 3),
        ...(gateways.includes(t)
          ? (() => {
              const wait = waitOf(t.name);
              return {
                audit_acknowledge: t === gateway ? "durable" : "written",
                audit_wait_mean_ms: wait.count > 0 ? round((wait.sum / wait.count) * 1000, 3) : null,
                audit_wait_p50_ms: quantileMs(wait, 0.5),
                audit_wait_p99_ms: quantileMs(wait, 0.99),
                group_commit_ms: t === gateway ? GROUP_COMMIT_MS : WRITTEN_SYNC_MS,
              };
            })()
          : {}),
      }));
      const get = (n: string) => results.find((r) => r.target === n);
      const n = get("node-proxy")!;
      const x = get("nginx");
      ctx.print(`   ${"target".padEnd(15)} ${"max RPS".padStart(8)} ${"CPU µs/req".padStart(11)} ${`@${FIXED_RPS} RPS`.padStart(9)} ${"+p50 ms".padStart(8)} ${"+p99 ms".padStart(8)} ${"+TTFC ms".padStart(9)}`);
      for (const r of results) {
        ctx.print(`   ${r.target.padEnd(15)} ${String(r.rps).padStart(8)} ${fmt(r.cpu_us_per_req, 11)} ${fmt(r.cpu_us_per_req_at_fixed_rps, 9)} ${fmt(r.added_p50_ms, 8)} ${fmt(r.added_p99_ms, 8)} ${fmt(r.added_ttfc_ms, 9)}`);
        ctx.emit({ ...r });
      }
      for (const t of gateways) {
        const gw = get(t.name)!;
        const what = t === gateway ? `group commit window ${GROUP_COMMIT_MS} ms + fsync: on disk` : `the write into the page cache; fdatasyncs grouped by ${WRITTEN_SYNC_MS} ms behind it`;
        ctx.print(`   ${t.name} answers waited for their audit record (${what}) at ${FIXED_RPS} RPS: mean ${fmt(gw.audit_wait_mean_ms ?? null, 0)} ms, p50 ${fmt(gw.audit_wait_p50_ms ?? null, 0)} ms, p99 ${fmt(gw.audit_wait_p99_ms ?? null, 0)} ms (part of its added latency)`);
      }
      for (const g of gateways.map((t) => get(t.name)!)) {
        const ratios = {
          target: g.target === "gateway" ? "ratios" : `ratios-${g.target}`,
          gateway_rps_vs_node: round(g.rps / n.rps, 3),
          gateway_rps_vs_nginx: x ? round(g.rps / x.rps, 3) : null,
          gateway_cpu_vs_node: g.cpu_us_per_req && n.cpu_us_per_req ? round(g.cpu_us_per_req / n.cpu_us_per_req, 3) : null,
          gateway_cpu_at_fixed_rps_vs_node: g.cpu_us_per_req_at_fixed_rps && n.cpu_us_per_req_at_fixed_rps ? round(g.cpu_us_per_req_at_fixed_rps / n.cpu_us_per_req_at_fixed_rps, 3) : null,
          gateway_cpu_vs_nginx: g.cpu_us_per_req && x?.cpu_us_per_req ? round(g.cpu_us_per_req / x.cpu_us_per_req, 3) : null,
        };
        ctx.print(`   ${g.target}: /node RPS ${ratios.gateway_rps_vs_node} (goal >= 0.75)${x ? `, /nginx RPS ${ratios.gateway_rps_vs_nginx}` : ""}; CPU per request ${ratios.gateway_cpu_vs_node}x node (${ratios.gateway_cpu_at_fixed_rps_vs_node}x at ${FIXED_RPS} RPS)`);
        const goals = {
          rps: (ratios.gateway_rps_vs_node ?? 0) >= 0.75,
          p50: (g.added_p50_ms ?? Infinity) <= 0.4,
          p99: (g.added_p99_ms ?? Infinity) <= 1,
          ttfc: (g.added_ttfc_ms ?? Infinity) <= 0.5,
        };
        ctx.print(`   ${g.target} goals: RPS ${goals.rps ? "met" : "MISSED"}, +p50 ${goals.p50 ? "met" : "MISSED"}, +p99 ${goals.p99 ? "met" : "MISSED"}, +TTFC ${goals.ttfc ? "met" : "MISSED"} (${cores} cores; proxies on core ${proxyCore})`);
        ctx.emit({ ...ratios, goals });
      }
    } finally {
      unpin();
      for (const t of running.reverse()) await t.stop().catch(() => undefined);
      rmSync(dir, { recursive: true, force: true });
    }
  },
};

function fmt(v: number | null, width: number): string {
  return (v === null ? "-" : String(v)).padStart(width);
}

export function round(v: number, digits: number): number {
  const f = 10 ** digits;
  return Math.round(v * f) / f;
}

export function median(xs: number[]): number {
  const s = [...xs].sort((a, b) => a - b);
  return s.length === 0 ? NaN : s[Math.floor((s.length - 1) / 2)]!;
}

/** The machine's cores as the gateway benches split them: the measured process gets the last, the rest share the others. */
export function benchCores(): { cores: number; last: string; others: string } {
  const cores = Number(spawnSync("nproc").stdout?.toString().trim() || "1");
  return { cores, last: String(cores - 1), others: cores > 1 ? `0-${cores - 2}` : "0" };
}

/** The engine simulator answering at once (no time to first token, none between tokens), 20 tokens per answer. */
export function startZeroLatencyEngine(cores: string): Promise<Target> {
  const argv = [process.execPath, join(ROOT, "sim/dist/engine-main.js"), "--port", "0", "--model", MODEL, "--ttft-ms", "0", "--itl-ms", "0", "--max-concurrent", "100000", "--output-tokens", "20"];
  return launchUrl("engine", taskset(cores, argv), (l) => (JSON.parse(l) as { url?: string }).url);
}

export function taskset(cores: string, argv: string[]): string[] {
  return spawnSync("taskset", ["--version"]).status === 0 ? ["taskset", "-c", cores, ...argv] : argv;
}

/**
 * Pins every thread of this process to `cores`; the returned function restores the previous
 * affinity. Without taskset it does nothing.
 */
export function pinSelf(cores: string): () => void {
  const before = spawnSync("taskset", ["-p", "-c", String(process.pid)], { encoding: "utf8" });
  const previous = /:\s*(\S+)\s*$/.exec(before.stdout ?? "")?.[1];
  if (before.status !== 0 || previous === undefined) return () => undefined;
  spawnSync("taskset", ["-a", "-p", "-c", cores, String(process.pid)], { stdio: "ignore" });
  return () => void spawnSync("taskset", ["-a", "-p", "-c", previous, String(process.pid)], { stdio: "ignore" });
}

/** utime + stime of a process, µs. */
function cpuMicros(pid: number): number {
  const stat = readFileSync(`/proc/${pid}/stat`, "utf8");
  const fields = stat.slice(stat.lastIndexOf(")") + 2).split(" ");
  const ticks = Number(fields[11]) + Number(fields[12]);
  return (ticks * 1e6) / 100; // USER_HZ is 100 on Linux
}

/** Starts a child and waits for the line from which `parse` reads its URL. */
export async function launchUrl(name: string, argv: string[], parse: (line: string) => string | undefined, env: NodeJS.ProcessEnv = process.env): Promise<Target> {
  const child = spawn(argv[0]!, argv.slice(1), { stdio: ["ignore", "pipe", "pipe"], env });
  let err = "";
  child.stderr!.on("data", (b: Buffer) => (err = (err + b.toString()).slice(-4000)));
  const url = await new Promise<string>((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error(`${name} did not start in 20 s: ${err}`)), 20000);
    const lines = createInterface({ input: child.stdout! });
    lines.on("line", (l) => {
      let u: string | undefined;
      try {
        u = parse(l);
      } catch {
        u = undefined;
      }
      if (u) {
        clearTimeout(timer);
        resolve(u);
      }
    });
    child.once("exit", (code) => {
      clearTimeout(timer);
      reject(new Error(`${name} exited with ${code}: ${err}`));
    });
  });
  return { name, url, pid: pidOf(child), stop: () => stopChild(child, 3000) };
}

/** With taskset in front, the measured process is taskset's exec'd self: same pid. */
function pidOf(child: ChildProcess): number {
  return child.pid ?? 0;
}

async function startGatewayTarget(dir: string, engineUrl: string, key: string, core: string, acknowledge: "durable" | "written"): Promise<Target> {
  const name = acknowledge === "durable" ? "gateway" : `gateway-${acknowledge}`;
  const config = {
    id: "bench-gw",
    homeRegion: "eu-central-1",
    listen: { host: "127.0.0.1", port: 0, plaintext: true },
    logLevel: "info",
    staticRoutes: [{ id: "engine-0", model: MODEL, region: "eu-central-1", jurisdiction: "EU", url: engineUrl }],
    tenants: [{
      id: "bench", regions: ["eu-central-1"], jurisdictions: ["EU"],
      apiKeys: [{ id: "bench-key", sha256: createHash("sha256").update(key).digest("hex") }],
      redact: ["email", "phone", "iban", "card", "us_ssn", "ipv4", "ipv6"],
    }],
    // The production audit path: the durable spool with group commit (no sink here: shipping is the audit bench).
    audit: { spool: { dir: join(dir, `audit-${acknowledge}`), acknowledge, groupCommit: { maxDelayMs: acknowledge === "durable" ? GROUP_COMMIT_MS : WRITTEN_SYNC_MS } } },
    limits: { maxConcurrent: 4096, maxQueue: 4096, queueTimeoutMs: 10000 },
  };
  const file = join(dir, `${name}.json`);
  writeFileSync(file, JSON.stringify(config));
  const cli = join(ROOT, "cli/dist/main.js");
  return launchUrl("gateway", taskset(core, [process.execPath, cli, "gateway", "--config", file]), (l) => {
    const o = JSON.parse(l) as { msg?: string; url?: string };
    return o.msg === "gateway listening" ? o.url : undefined;
  }).then((t) => ({ ...t, name }));
}

async function startNginx(dir: string, engineUrl: string, core: string, ctx: BenchContext): Promise<Target | null> {
  const bin = ["/usr/sbin/nginx", "/usr/bin/nginx"].find((p) => existsSync(p));
  if (!bin) {
    ctx.print("   nginx not installed (scripts/setup.sh --bench installs it): skipping the nginx baseline");
    return null;
  }
  const port = await freePort();
  const up = new URL(engineUrl);
  const conf = join(dir, "nginx.conf");
  writeFileSync(conf, `
worker_processes 1;
daemon off;
pid ${join(dir, "nginx.pid")};
error_log ${join(dir, "nginx-error.log")} warn;
events { worker_connections 4096; }
http {
  access_log off;
  client_body_temp_path ${dir}/nginx-body;
  proxy_temp_path ${dir}/nginx-proxy;
  fastcgi_temp_path ${dir}/nginx-fastcgi;
  uwsgi_temp_path ${dir}/nginx-uwsgi;
  scgi_temp_path ${dir}/nginx-scgi;
  upstream engine { server ${up.hostname}:${up.port}; keepalive 256; }
  server {
    listen 127.0.0.1:${port};
    keepalive_requests 1000000;
    location / {
      proxy_pass http://engine;
      proxy_http_version 1.1;
      proxy_set_header Connection "";
      proxy_buffering off;
    }
  }
}
`);
  const argv = taskset(core, [bin, "-c", conf, "-p", dir]);
  const child = spawn(argv[0]!, argv.slice(1), { stdio: ["ignore", "ignore", "pipe"] });
  const url = `http://127.0.0.1:${port}`;
  for (let i = 0; i < 100; i++) {
    const ok = await fetch(`${url}/health`).then((r) => r.ok, () => false);
    if (ok) break;
    await new Promise((r) => setTimeout(r, 50));
  }
  // The worker does the proxying; the master only waits.
  const pids = spawnSync("pgrep", ["-P", String(child.pid)]).stdout?.toString().trim().split("\n").filter(Boolean).map(Number) ?? [];
  return { name: "nginx", url, pid: pids[0] ?? child.pid ?? null, stop: () => stopChild(child, 3000) };
}

/** Max RPS, closed loop, from wrk (64 connections, keep-alive). */
function wrk(url: string, key: string, dir: string, cores: string): { rps: number; requests: number; errors: number } {
  const script = join(dir, "post.lua");
  writeFileSync(script, `wrk.method = "POST"\nwrk.body = ${JSON.stringify(CHAT)}\nwrk.headers["Content-Type"] = "application/json"\nwrk.headers["Authorization"] = "Bearer ${key}"\n`);
  const argv = taskset(cores, ["wrk", "-t1", "-c64", `-d${RPS_SECONDS}s`, "-s", script, `${url}/v1/chat/completions`]);
  const r = spawnSync(argv[0]!, argv.slice(1), { encoding: "utf8", timeout: (RPS_SECONDS + 30) * 1000 });
  if (r.error || r.status !== 0) throw new Error(`wrk failed (install it: scripts/setup.sh --bench): ${r.error?.message ?? r.stderr}`);
  const rps = Number(/Requests\/sec:\s+([\d.]+)/.exec(r.stdout)?.[1] ?? 0);
  const requests = Number(/(\d+) requests in/.exec(r.stdout)?.[1] ?? 0);
  const errors = Number(/Non-2xx or 3xx responses: (\d+)/.exec(r.stdout)?.[1] ?? 0);
  return { rps, requests, errors };
}

const agent = new Agent({ keepAlive: true, maxSockets: 256 });

function post(url: string, body: string, headers: Record<string, string>, onFirst?: () => void): Promise<number> {
  return new Promise((resolve, reject) => {
    const u = new URL(`${url}/v1/chat/completions`);
    const req = request({ host: u.hostname, port: u.port, path: u.pathname, method: "POST", agent, headers: { "content-type": "application/json", "content-length": Buffer.byteLength(body), ...headers } }, (res) => {
      let first = true;
      res.on("data", () => {
        if (first) {
          first = false;
          onFirst?.();
        }
      });
      res.on("end", () => resolve(res.statusCode ?? 0));
      res.on("error", reject);
    });
    req.on("error", reject);
    req.end(body);
  });
}

/** Open loop at a fixed rate: latency percentiles, ms. */
async function fixedRate(url: string, rps: number, seconds: number, headers: Record<string, string>): Promise<{ p50: number; p99: number; errors: number; requests: number }> {
  const total = rps * seconds;
  const lat: number[] = [];
  let errors = 0;
  const start = performance.now();
  const pending: Promise<void>[] = [];
  for (let i = 0; i < total; i++) {
    const due = start + (i * 1000) / rps;
    const wait = due - performance.now();
    if (wait > 1) await new Promise((r) => setTimeout(r, wait));
    const t0 = performance.now();
    // A failed request (a keep-alive race, an overloaded target) counts as a miss, not a crash.
    pending.push(post(url, CHAT, headers).then(() => void lat.push(performance.now() - t0), () => void (errors += 1)));
  }
  await Promise.all(pending);
  lat.sort((a, b) => a - b);
  if (lat.length === 0) throw new Error(`${url}: every request failed`);
  return { p50: lat[Math.floor(lat.length * 0.5)]!, p99: lat[Math.floor(lat.length * 0.99)]!, errors, requests: total };
}

/** Sequential 20-chunk streams: median time until the first body bytes, ms. */
async function timeToFirstChunk(url: string, n: number, headers: Record<string, string>): Promise<number> {
  const xs: number[] = [];
  for (let i = 0; i < n; i++) {
    const t0 = performance.now();
    let t1 = 0;
    const ok = await post(url, STREAM, headers, () => (t1 = performance.now())).then(() => true, () => false);
    if (ok && t1 > 0) xs.push(t1 - t0);
  }
  return median(xs);
}

/** A Prometheus histogram as scraped: cumulative counts per upper bound (seconds). */
interface Histo {
  buckets: { le: number; count: number }[];
  sum: number;
  count: number;
}

/** The gateway's `enclave_gateway_audit_wait_seconds` from its /metrics. */
async function auditWaitHistogram(url: string): Promise<Histo> {
  const text = await (await fetch(`${url}/metrics`)).text();
  const h: Histo = { buckets: [], sum: 0, count: 0 };
  for (const line of text.split("\n")) {
    const b = /^enclave_gateway_audit_wait_seconds_bucket\{le="([^"]+)"[^}]*\} (\S+)/.exec(line);
    if (b) h.buckets.push({ le: b[1] === "+Inf" ? Infinity : Number(b[1]), count: Number(b[2]) });
    const s = /^enclave_gateway_audit_wait_seconds_sum(?:\{[^}]*\})? (\S+)/.exec(line);
    if (s) h.sum = Number(s[1]);
    const c = /^enclave_gateway_audit_wait_seconds_count(?:\{[^}]*\})? (\S+)/.exec(line);
    if (c) h.count = Number(c[1]);
  }
  return h;
}

function diffHisto(a: Histo, b: Histo): Histo {
  return { buckets: a.buckets.map((x, i) => ({ le: x.le, count: x.count - (b.buckets[i]?.count ?? 0) })), sum: a.sum - b.sum, count: a.count - b.count };
}

function sumHisto(a: Histo, b: Histo): Histo {
  return { buckets: a.buckets.map((x, i) => ({ le: x.le, count: x.count + (b.buckets[i]?.count ?? 0) })), sum: a.sum + b.sum, count: a.count + b.count };
}

/** histogram_quantile, as Prometheus computes it (linear within the bucket), in ms. */
function quantileMs(h: Histo, q: number): number | null {
  if (h.count <= 0) return null;
  const rank = q * h.count;
  let prevLe = 0;
  let prevCount = 0;
  for (const b of h.buckets) {
    if (b.count >= rank) {
      if (b.le === Infinity) return round(prevLe * 1000, 3);
      return round((prevLe + ((b.le - prevLe) * (rank - prevCount)) / Math.max(1, b.count - prevCount)) * 1000, 3);
    }
    prevLe = b.le;
    prevCount = b.count;
  }
  return null;
}

import { Agent, request } from "node:http";
import type { NodeReport } from "@enclave/contracts";

export interface LoadResult {
  sent: number;
  ok: number;
  failed: number;
  seconds: number;
  /** ms */
  p50: number;
  p99: number;
  max: number;
}

export interface HeartbeatTarget {
  url: string;
  reports: readonly NodeReport[];
  tokens: ReadonlyMap<string, string>;
}

/**
 * Sends heartbeats the way agents do (keep-alive, one JSON report each), either as fast as
 * `concurrency` requests in flight allow (`rate` undefined) or paced at `rate` per second.
 * A tenth of the reports carry changed engine load, so the route table keeps changing too.
 */
export async function heartbeatLoad(target: HeartbeatTarget, opts: { seconds: number; concurrency: number; rate?: number }): Promise<LoadResult> {
  const agent = new Agent({ keepAlive: true, maxSockets: opts.concurrency });
  const u = new URL(target.url);
  const latencies: number[] = [];
  let sent = 0;
  let ok = 0;
  let failed = 0;
  let next = 0;
  const started = performance.now();
  const end = started + opts.seconds * 1000;
  const one = (): Promise<void> => {
    const report = target.reports[next++ % target.reports.length]!;
    const changed = Math.random() < 0.1 ? { ...report, backends: report.backends.map((b) => ({ ...b, load: { running: Math.floor(Math.random() * 10), waiting: 0, kvCacheUsage: 0.2 } })) } : report;
    const body = JSON.stringify({ ...changed, time: Date.now() });
    const t0 = performance.now();
    sent++;
    return new Promise((resolve) => {
      const req = request(
        {
          host: u.hostname,
          port: u.port,
          path: `/v1/nodes/${report.nodeId}/heartbeat`,
          method: "POST",
          agent,
          headers: { "content-type": "application/json", "content-length": Buffer.byteLength(body), authorization: `Bearer ${target.tokens.get(report.nodeId)}` },
          timeout: 10000,
        },
        (res) => {
          res.resume();
          res.on("end", () => {
            latencies.push(performance.now() - t0);
            if (res.statusCode === 200) ok++;
            else failed++;
            resolve();
          });
        },
      );
      req.on("timeout", () => req.destroy(new Error("timeout")));
      req.on("error", () => {
        failed++;
        resolve();
      });
      req.end(body);
    });
  };
  if (opts.rate === undefined) {
    await Promise.all(
      Array.from({ length: opts.concurrency }, async () => {
        while (performance.now() < end) await one();
      }),
    );
  } else {
    // Open loop: a heartbeat is due every 1/rate s whether or not earlier ones were answered.
    const interval = 1000 / opts.rate;
    const inFlight = new Set<Promise<void>>();
    for (let i = 0; ; i++) {
      const due = started + i * interval;
      if (due >= end) break;
      const wait = due - performance.now();
      if (wait > 1) await new Promise((r) => setTimeout(r, wait));
      const p = one().finally(() => inFlight.delete(p));
      inFlight.add(p);
    }
    await Promise.all(inFlight);
  }
  agent.destroy();
  latencies.sort((a, b) => a - b);
  const q = (f: number) => latencies[Math.min(latencies.length - 1, Math.floor(f * latencies.length))] ?? NaN;
  return { sent, ok, failed, seconds: (performance.now() - started) / 1000, p50: q(0.5), p99: q(0.99), max: latencies.at(-1) ?? NaN };
}

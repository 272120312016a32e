import { spawn, type ChildProcess } from "node:child_process";
import { mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { freePort, stopChild, waitFor } from "@enclave/runtime";

export interface PromSample {
  metric: Record<string, string>;
  value: [number, string];
}

export interface RunningPrometheus {
  url: string;
  /** An instant query: rejects when Prometheus cannot parse or evaluate it. */
  query(expr: string): Promise<PromSample[]>;
  /** Values of `label` over the series matching `selector` (what Grafana's label_values() shows). */
  labelValues(label: string, selector?: string): Promise<string[]>;
  /** Series matching a selector, with their labels. */
  series(selector: string): Promise<Record<string, string>[]>;
  get<T>(path: string, params?: Record<string, string>): Promise<T>;
  stop(): Promise<void>;
}

/**
 * A real Prometheus (Debian's `prometheus`) on a free loopback port with the given
 * configuration (YAML), a private TSDB in a temp dir, removed on stop.
 */
export async function startPrometheus(configYaml: string, opts: { bin?: string; readyTimeoutMs?: number } = {}): Promise<RunningPrometheus> {
  const dir = mkdtempSync(join(tmpdir(), "enclave-prometheus-"));
  const config = join(dir, "prometheus.yml");
  writeFileSync(config, configYaml);
  const port = await freePort();
  const url = `http://127.0.0.1:${port}`;
  let log = "";
  const child: ChildProcess = spawn(
    opts.bin ?? "prometheus",
    [`--config.file=${config}`, `--storage.tsdb.path=${join(dir, "tsdb")}`, `--web.listen-address=127.0.0.1:${port}`, "--log.level=warn"],
    { stdio: ["ignore", "ignore", "pipe"] },
  );
  child.stderr!.on("data", (b: Buffer) => (log = (log + b.toString()).slice(-10_000)));
  const spawned = new Promise<void>((resolve, reject) => {
    child.once("spawn", resolve);
    child.once("error", (e: NodeJS.ErrnoException) => reject(e.code === "ENOENT" ? new Error("prometheus not found: install the Debian package prometheus (scripts/setup.sh --test does)") : e));
  });
  const stop = () => stopChild(child, 5000).finally(() => rmSync(dir, { recursive: true, force: true }));
  try {
    await spawned;
    await waitFor(
      async () => {
        if (child.exitCode !== null) throw new Error(`prometheus exited with ${child.exitCode}: ${log}`);
        return (await fetch(`${url}/-/ready`, { signal: AbortSignal.timeout(2000) })).ok;
      },
      { timeoutMs: opts.readyTimeoutMs ?? 20_000, intervalMs: 50, what: "prometheus to be ready" },
    );
  } catch (e) {
    await stop();
    throw e;
  }

  async function get<T>(path: string, params: Record<string, string> = {}): Promise<T> {
    const r = await fetch(`${url}${path}?${new URLSearchParams(params)}`, { signal: AbortSignal.timeout(10_000) });
    const body = (await r.json()) as { status: string; data: T; error?: string; errorType?: string };
    if (body.status !== "success") throw new Error(`${path} ${JSON.stringify(params)}: ${body.errorType}: ${body.error}`);
    return body.data;
  }
  return {
    url,
    get,
    query: async (expr) => {
      const data = await get<{ resultType: string; result: PromSample[] }>("/api/v1/query", { query: expr });
      if (data.resultType !== "vector") throw new Error(`${expr}: a ${data.resultType}, not an instant vector`);
      return data.result;
    },
    labelValues: (label, selector) => get<string[]>(`/api/v1/label/${encodeURIComponent(label)}/values`, selector ? { "match[]": selector } : {}),
    series: (selector) => get<Record<string, string>[]>("/api/v1/series", { "match[]": selector }),
    stop,
  };
}

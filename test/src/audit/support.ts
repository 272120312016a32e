import { spawn, type ChildProcess } from "node:child_process";
import { generateKeyPairSync, randomBytes } from "node:crypto";
import { mkdir, readFile, writeFile } from "node:fs/promises";
import { join } from "node:path";
import { createInterface } from "node:readline";
import { fileURLToPath } from "node:url";
import type { TestContext } from "node:test";
import { auditFilesOf, decodeAuditLine, verifyAuditPath } from "@enclave/audit";
import type { TestPki } from "@enclave/audit/testing/pki";
import { AuditRecord } from "@enclave/contracts";
import { freePort, sha256Hex, stopChild, waitFor } from "@enclave/runtime";
import { CLI } from "../support/stack.js";

export const MODEL = "audit-test-model";
export const EU = "eu-central-1";
export const US = "us-east-1";
export const KEYS = { eu: "sk-audit-eu-test", us: "sk-audit-us-test" } as const;

/** A simulated vLLM engine as its own process (the same simulator `enclave up` runs). */
export async function startEngine(t: TestContext): Promise<string> {
  const script = fileURLToPath(import.meta.resolve("@enclave/sim/engine-main"));
  const child = spawn(process.execPath, [script, "--port", "0", "--model", MODEL, "--ttft-ms", "2", "--itl-ms", "1", "--output-tokens", "4", "--max-concurrent", "256", "--exit-with-parent"], { stdio: ["pipe", "pipe", "ignore"] });
  t.after(() => stopChild(child, 3000));
  const line = await new Promise<string>((resolve, reject) => {
    createInterface({ input: child.stdout! }).once("line", resolve);
    child.once("exit", (code) => reject(new Error(`engine simulator exited with ${code}`)));
  });
  return (JSON.parse(line) as { url: string }).url;
}

export interface GatewaySetup {
  dir: string;
  pki: TestPki;
  engines: { eu: string; us: string };
  /** Ports of each region's receiver; null: no sinks (records stay in the spool). */
  sinks: { eu: number; us: number } | null;
  spool?: Record<string, unknown>;
}

export interface GatewayFiles {
  config: string;
  spoolDir: string;
  publicKey: string;
  /** The AES-256 key (hex) the US tenant's content is encrypted under, as keyId `test-content-1`. */
  contentKeyHex: string;
  port: number;
}

/** Writes a gateway config: static routes to the two engines, one tenant per region, the spool shipping to one rsyslog per region. */
export async function writeGatewayConfig(s: GatewaySetup): Promise<GatewayFiles> {
  const secrets = join(s.dir, "secrets");
  await mkdir(secrets, { recursive: true, mode: 0o700 });
  const { privateKey, publicKey } = generateKeyPairSync("ed25519");
  const keyFile = join(secrets, "checkpoint.pem");
  const publicKeyFile = join(secrets, "checkpoint.pub.pem");
  await writeFile(keyFile, privateKey.export({ type: "pkcs8", format: "pem" }), { mode: 0o600 });
  await writeFile(publicKeyFile, publicKey.export({ type: "spki", format: "pem" }));
  const contentKeyHex = randomBytes(32).toString("hex");
  const contentKeyFile = join(secrets, "content.key");
  await writeFile(contentKeyFile, contentKeyHex + "\n", { mode: 0o600 });
  const port = await freePort();
  const spoolDir = join(s.dir, "spool");
  const sink = (p: number) => ({
    type: "syslog", host: "127.0.0.1", port: p, serverName: "localhost",
    tls: { ca: s.pki.ca, cert: s.pki.client.cert, key: { file: s.pki.client.key } },
    batchRecords: 2000, timeoutMs: 5000, pollMs: 200, lingerMs: 50, backoff: { initialMs: 100, maxMs: 1000 },
  });
  const config = {
    id: "gw-audit-test",
    homeRegion: EU,
    listen: { host: "127.0.0.1", port, plaintext: true },
    logLevel: "info",
    staticRoutes: [
      { id: "eu-engine", model: MODEL, region: EU, jurisdiction: "EU", url: s.engines.eu },
      { id: "us-engine", model: MODEL, region: US, jurisdiction: "US", url: s.engines.us },
    ],
    tenants: [
      { id: "tenant-eu", regions: [EU], apiKeys: [{ id: "eu-key", sha256: sha256Hex(KEYS.eu) }], auditContent: "sha256" },
      { id: "tenant-us", regions: [US], apiKeys: [{ id: "us-key", sha256: sha256Hex(KEYS.us) }], auditContent: "encrypted" },
    ],
    audit: {
      spool: { dir: spoolDir, segmentBytes: 64 * 1024, groupCommit: { maxDelayMs: 2 }, ...s.spool },
      sinks: s.sinks === null ? {} : { [EU]: sink(s.sinks.eu), [US]: sink(s.sinks.us) },
      checkpoint: { key: { file: keyFile }, intervalMs: 500 },
      content: { keyId: "test-content-1", key: { file: contentKeyFile }, maxBytes: 64 * 1024 },
    },
  };
  const file = join(s.dir, "gateway.yaml");
  await writeFile(file, JSON.stringify(config, null, 2));
  return { config: file, spoolDir, publicKey: publicKeyFile, contentKeyHex, port };
}

export interface GatewayProcess {
  url: string;
  child: ChildProcess;
  /** Its JSON log lines so far. */
  log(): string;
  /** SIGTERM and wait (graceful: final checkpoints, a bounded drain). */
  stop(): Promise<void>;
}

/** Every record in a spool directory (all chains), checkpoints left out. */
export async function spoolRecords(dir: string): Promise<AuditRecord[]> {
  const out: AuditRecord[] = [];
  for (const file of await auditFilesOf(dir)) {
    for (const line of (await readFile(file, "utf8")).split("\n")) {
      const d = decodeAuditLine(line);
      if (d.kind === "entry" && (d.value as { kind?: unknown }).kind !== "checkpoint") out.push(AuditRecord.parse(d.value));
    }
  }
  return out;
}

/**
 * Waits until a receiver's file holds the end of the chain the spool holds for `region`
 * (its final checkpoint after a graceful stop). A receiver acknowledges by reading; its file
 * writer may lag a moment behind.
 */
export async function sinkCaughtUp(spoolDir: string, region: string, sinkFile: string): Promise<void> {
  // A region whose every segment was shipped and acknowledged has an empty spool: then the sink holds it all.
  const want = (await verifyAuditPath(join(spoolDir, region))).chains[0]?.lastSeq ?? 0;
  await waitFor(async () => {
    const got = await verifyAuditPath(sinkFile).catch(() => null);
    return (got?.chains.find((c) => c.chain === region)?.lastSeq ?? -1) >= want;
  }, { timeoutMs: 30_000, what: `${sinkFile} to reach seq ${want}` });
}

/** `enclave gateway --config FILE` as a child process, serving once /healthz answers. */
export async function startGatewayProcess(t: TestContext, f: GatewayFiles): Promise<GatewayProcess> {
  const child = spawn(process.execPath, [CLI, "gateway", "--config", f.config], { stdio: ["ignore", "pipe", "pipe"] });
  let log = "";
  const keep = (b: Buffer) => (log = (log + b.toString()).slice(-200_000));
  child.stdout!.on("data", keep);
  child.stderr!.on("data", keep);
  t.after(() => stopChild(child, 10_000));
  const url = `http://127.0.0.1:${f.port}`;
  await waitFor(
    async () => {
      if (child.exitCode !== null) throw new Error(`gateway exited with ${child.exitCode}:\n${log}`);
      return (await fetch(`${url}/healthz`, { signal: AbortSignal.timeout(1000) })).ok;
    },
    { timeoutMs: 20_000, intervalMs: 50, what: "the gateway to serve" },
  ).catch((e: Error) => {
    throw new Error(`${e.message}\n${log}`);
  });
  return { url, child, log: () => log, stop: () => stopChild(child, 15_000) };
}

export interface Answer {
  status: number;
  key: keyof typeof KEYS | "bad";
  /** sha256 of the exact request body: the record's bodySha256. */
  bodySha256: string;
  body: string;
  /** What the client received. */
  answer: string;
  code?: string;
}

let counter = 0;

/** One chat completion with a unique body; resolves once the whole answer was read (or rejects if the connection broke). */
export async function ask(url: string, key: keyof typeof KEYS | "bad", stream = false): Promise<Answer> {
  const body = JSON.stringify({ model: MODEL, stream, messages: [{ role: "user", content: `request ${process.pid}-${++counter}-${Math.random()}` }] });
  const res = await fetch(`${url}/v1/chat/completions`, {
    method: "POST",
    headers: { "content-type": "application/json", authorization: `Bearer ${key === "bad" ? "sk-wrong" : KEYS[key]}` },
    body,
    signal: AbortSignal.timeout(15_000),
  });
  const text = await res.text();
  const code = res.status >= 400 ? ((JSON.parse(text) as { error?: { code?: string } }).error?.code ?? "") : undefined;
  return { status: res.status, key, bodySha256: sha256Hex(body), body, answer: text, ...(code !== undefined ? { code } : {}) };
}

/** `workers` clients asking in a loop until `stop` says so; answers that completed, and how many broke. */
export function load(url: string, workers: number, pick: (i: number) => keyof typeof KEYS | "bad") {
  const answers: Answer[] = [];
  let broken = 0;
  let running = true;
  let i = 0;
  const loops = Array.from({ length: workers }, async () => {
    while (running) {
      try {
        answers.push(await ask(url, pick(i++), i % 3 === 0));
      } catch {
        broken++;
      }
    }
  });
  return {
    answers,
    broken: () => broken,
    async stop() {
      running = false;
      await Promise.all(loops);
    },
  };
}

/** A metric's value for a label set, from the gateway's /metrics. */
export async function metric(url: string, name: string, region?: string): Promise<number | null> {
  const text = await (await fetch(`${url}/metrics`, { signal: AbortSignal.timeout(5000) })).text();
  const re = new RegExp(`^${name}\\{([^}]*)\\} (\\S+)$`, "m");
  for (const line of text.split("\n")) {
    const m = re.exec(line);
    if (m && (region === undefined || m[1]!.includes(`region="${region}"`))) return Number(m[2]);
  }
  return null;
}

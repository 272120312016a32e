/**
 * DESIGN §1's segments as network namespaces: one host namespace per machine, a router
 * namespace holding one bridge per segment, veth pairs between them. Nothing is created in the
 * machine's own namespace (no uplink), so nothing a namespace sends can leave the machine, and
 * every address used is one created here.
 */
import { execFile } from "node:child_process";
import { readFileSync } from "node:fs";
import { promisify } from "node:util";
import { waitFor } from "@enclave/runtime";

const run = promisify(execFile);

export type Segment = "outside" | "dmz" | "inference" | "logging";
export type HostName = "client" | "internet" | "gateway" | "scheduler" | "gpu1" | "gpu2" | "logs";

export interface HostPlan {
  name: HostName;
  segment: Segment;
  address: string;
  /** What it stands for, for the report. */
  role: string;
}

/** /24 per segment; the router is .1 on each. `outside` is not a segment of the matrix: it is every client and the internet. */
export const SUBNETS: Record<Segment, string> = { outside: "198.51.100", dmz: "10.200.1", inference: "10.200.2", logging: "10.200.3" };

export const HOSTS: readonly HostPlan[] = [
  { name: "client", segment: "outside", address: "198.51.100.10", role: "a client on the internet" },
  { name: "internet", segment: "outside", address: "198.51.100.53", role: "an internet server and DNS resolver" },
  { name: "gateway", segment: "dmz", address: "10.200.1.10", role: "gateway" },
  { name: "scheduler", segment: "inference", address: "10.200.2.10", role: "scheduler host (scheduler, Redis)" },
  { name: "gpu1", segment: "inference", address: "10.200.2.21", role: "GPU node 1 (agent, engines)" },
  { name: "gpu2", segment: "inference", address: "10.200.2.22", role: "GPU node 2 (agent, engines)" },
  { name: "logs", segment: "logging", address: "10.200.3.10", role: "log host (rsyslog, Prometheus)" },
];

export function host(name: HostName): HostPlan {
  return HOSTS.find((h) => h.name === name)!;
}

export function routerAddress(segment: Segment): string {
  return `${SUBNETS[segment]}.1`;
}

/** Every namespace of this suite starts with this; a run adds its pid. */
export const NS_PREFIX = "enclave-seg-";

const BRIDGE: Record<Segment, string> = { outside: "br-out", dmz: "br-dmz", inference: "br-inf", logging: "br-log" };

async function ip(...args: string[]): Promise<void> {
  try {
    await run("ip", args, { timeout: 10_000 });
  } catch (e) {
    const err = e as Error & { stderr?: string };
    throw new Error(`ip ${args.join(" ")}: ${(err.stderr ?? err.message).trim()}`);
  }
}

async function nsExec(ns: string, ...cmd: string[]): Promise<string> {
  try {
    return (await run("ip", ["netns", "exec", ns, ...cmd], { timeout: 10_000 })).stdout;
  } catch (e) {
    const err = e as Error & { stderr?: string };
    throw new Error(`in ${ns}: ${cmd.join(" ")}: ${(err.stderr ?? err.message).trim()}`);
  }
}

export async function listNamespaces(): Promise<string[]> {
  const { stdout } = await run("ip", ["netns", "list"], { timeout: 10_000 });
  return stdout.split("\n").map((l) => l.split(" ")[0]!).filter(Boolean);
}

function alive(pid: number): boolean {
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, "utf8");
    return stat.slice(stat.lastIndexOf(")") + 2, stat.lastIndexOf(")") + 3) !== "Z";
  } catch {
    return false;
  }
}

/** Kills whatever still runs in the namespace (SIGTERM, then SIGKILL), then deletes it; a missing one is fine. */
export async function deleteNamespace(ns: string): Promise<void> {
  const pidsOf = async () =>
    (await run("ip", ["netns", "pids", ns], { timeout: 10_000 }).then((r) => r.stdout, () => "")).split("\n").filter(Boolean).map(Number).filter(alive);
  let pids = await pidsOf();
  for (const sig of ["SIGTERM", "SIGKILL"] as const) {
    if (pids.length === 0) break;
    for (const pid of pids) {
      try {
        process.kill(pid, sig);
      } catch {
        // gone already
      }
    }
    const signalled = pids;
    await waitFor(() => !signalled.some(alive), { timeoutMs: 3000, intervalMs: 50 }).catch(() => undefined);
    pids = await pidsOf();
  }
  // `ip netns del` only removes the name while a process is inside; the kills above made sure none is.
  if ((await listNamespaces()).includes(ns)) await ip("netns", "del", ns);
}

/** Whether the run of this pid is gone (a crash, a SIGKILL), so what it left may be removed; never another live run's. */
export function runGone(pid: number): boolean {
  if (!alive(pid)) return true;
  try {
    return !readFileSync(`/proc/${pid}/cmdline`, "utf8").includes("segments");
  } catch {
    return true;
  }
}

/** The namespaces of runs that are gone: this suite's leftovers. */
export async function staleNamespaces(): Promise<string[]> {
  const re = new RegExp(`^${NS_PREFIX}(\\d+)-`);
  return (await listNamespaces()).filter((ns) => {
    const m = re.exec(ns);
    return m !== null && runGone(Number(m[1]));
  });
}

export class Topology {
  readonly prefix: string;

  constructor(readonly runId = String(process.pid)) {
    this.prefix = `${NS_PREFIX}${runId}`;
  }

  ns(h: HostName | "router"): string {
    return `${this.prefix}-${h}`;
  }

  async namespaces(): Promise<string[]> {
    return (await listNamespaces()).filter((n) => n.startsWith(`${this.prefix}-`));
  }

  /** Builds it from scratch (whatever an earlier attempt of this run left is removed first). Forwarding stays off until {@link enableForwarding}. */
  async up(): Promise<void> {
    await this.down();
    const r = this.ns("router");
    await this.addNamespace(r);
    // Per-namespace sysctls: bridged (intra-segment) frames must not go through the forward hook.
    await nsExec(r, "sysctl", "-qw", "net.ipv4.ip_forward=0");
    await nsExec(r, "sysctl", "-qw", "net.bridge.bridge-nf-call-iptables=0", "net.bridge.bridge-nf-call-arptables=0").catch(() => undefined);
    for (const seg of Object.keys(SUBNETS) as Segment[]) {
      await ip("-n", r, "link", "add", BRIDGE[seg], "type", "bridge");
      await ip("-n", r, "addr", "add", `${routerAddress(seg)}/24`, "dev", BRIDGE[seg]);
      await ip("-n", r, "link", "set", BRIDGE[seg], "up");
    }
    for (const h of HOSTS) {
      const ns = this.ns(h.name);
      const port = `v-${h.name}`;
      await this.addNamespace(ns);
      await ip("-n", r, "link", "add", port, "type", "veth", "peer", "name", "eth0", "netns", ns);
      await ip("-n", r, "link", "set", port, "master", BRIDGE[h.segment], "up");
      await ip("-n", ns, "addr", "add", `${h.address}/24`, "dev", "eth0");
      await ip("-n", ns, "link", "set", "eth0", "up");
      await ip("-n", ns, "route", "add", "default", "via", routerAddress(h.segment));
    }
  }

  async enableForwarding(on: boolean): Promise<void> {
    await nsExec(this.ns("router"), "sysctl", "-qw", `net.ipv4.ip_forward=${on ? 1 : 0}`);
  }

  /** Loads an nftables file into the router (`nft -f`). */
  async loadRuleset(file: string): Promise<void> {
    await nsExec(this.ns("router"), "nft", "-f", file);
  }

  async routerRuleset(): Promise<string> {
    return nsExec(this.ns("router"), "nft", "list", "ruleset");
  }

  /** Removes the rendered table (the negative control: routing alone lets everything through). */
  async dropEnclaveTable(): Promise<void> {
    await nsExec(this.ns("router"), "nft", "delete", "table", "inet", "enclave");
  }

  /** The router's named counters: packets per counter. */
  async counters(): Promise<Record<string, number>> {
    const out = JSON.parse(await nsExec(this.ns("router"), "nft", "-j", "list", "counters", "table", "inet", "enclave")) as {
      nftables: { counter?: { name: string; packets: number } }[];
    };
    return Object.fromEntries(out.nftables.flatMap((e) => (e.counter ? [[e.counter.name, e.counter.packets]] : [])));
  }

  /** Kills everything inside this run's namespaces and deletes them; idempotent. */
  async down(): Promise<void> {
    await Promise.all((await this.namespaces()).map(deleteNamespace));
  }

  private async addNamespace(ns: string): Promise<void> {
    await ip("netns", "add", ns);
    await ip("-n", ns, "link", "set", "lo", "up");
    await nsExec(ns, "sysctl", "-qw", "net.ipv6.conf.all.disable_ipv6=1", "net.ipv6.conf.default.disable_ipv6=1");
  }
}

/** Whether this machine lets us create network namespaces (root with CAP_SYS_ADMIN), and if not why. */
export async function namespacesUnavailable(): Promise<string | null> {
  if (process.getuid?.() !== 0) return "not running as root: network namespaces need root (CI runs as root)";
  const probe = `${NS_PREFIX}${process.pid}-probe`;
  try {
    await ip("netns", "add", probe);
  } catch (e) {
    return `cannot create a network namespace here: ${(e as Error).message}`;
  }
  await ip("netns", "del", probe).catch(() => undefined);
  return null;
}

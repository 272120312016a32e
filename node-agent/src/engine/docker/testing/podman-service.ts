import { execFile, spawn, type ChildProcess } from "node:child_process";
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { promisify } from "node:util";
import { stopChild, waitFor } from "@enclave/runtime";

const run = promisify(execFile);

/**
 * A private podman service speaking the Docker Engine API on a unix socket, for tests:
 * its own state directory, and its own network namespace joined to this one by a veth
 * pair, so bridge networking, published ports and netavark's firewall rules and
 * ip_forward stay inside it (the host is not changed). Engines are reached from here
 * at `host`, the namespace's end of the pair. Settings from
 * shared/recipes/podman-api (root, no systemd, hybrid cgroups, no CAP_SYS_RESOURCE).
 */
export interface PodmanService {
  /** DOCKER_HOST-style unix socket path. */
  socketPath: string;
  /** Address of the service's network namespace, as seen from here. */
  host: string;
  /** Runs the podman CLI against the same state (and namespace). */
  podman(args: readonly string[], timeoutMs?: number): Promise<string>;
  /** Removes every container, stops the service, deletes the namespace and the state. Idempotent. */
  stop(): Promise<void>;
}

/** Commands a test with podman needs; setup.sh --test installs them (TEST_DEBS). */
const NEEDED = ["podman", "runc", "conmon", "nsenter", "ip", "iptables", "catatonit"];

export async function startPodmanService(): Promise<PodmanService> {
  const missing = [];
  for (const cmd of NEEDED) {
    const found = await run("sh", ["-c", `command -v ${cmd} || test -x /usr/libexec/podman/${cmd}`]).then(() => true, () => false);
    if (!found) missing.push(cmd);
  }
  if (missing.length > 0) throw new Error(`podman tests need ${missing.join(", ")}: run scripts/setup.sh --test (as root)`);
  if (process.getuid?.() !== 0) throw new Error("podman tests run as root (rootful podman, network namespaces)");

  const state = mkdtempSync(join(tmpdir(), "enclave-podman-"));
  const ns = `enclave-pd-${process.pid}`;
  const env = podmanEnv(state);
  const cleanups: (() => Promise<unknown>)[] = [() => Promise.resolve(rmSync(state, { recursive: true, force: true }))];
  const cleanup = async () => {
    for (const c of cleanups.splice(0).reverse()) await c().catch(() => {});
  };
  try {
    writeConfig(state, await hardLimits());
    const { host } = await makeNamespace(ns);
    cleanups.push(() => run("ip", ["netns", "del", ns]));
    const socketPath = join(state, "podman.sock");
    // --time=0: no idle exit. Never --log-level=debug: it breaks conmon's exit handling (the recipe).
    const service: ChildProcess = spawn("nsenter", [`--net=/run/netns/${ns}`, "podman", "system", "service", "--time=0", `unix://${socketPath}`], {
      env,
      stdio: ["ignore", "ignore", "pipe"],
    });
    let serviceLog = "";
    service.stderr?.setEncoding("utf8").on("data", (s: string) => (serviceLog = (serviceLog + s).slice(-4000)));
    cleanups.push(() => stopChild(service, 5000));
    const podman = async (args: readonly string[], timeoutMs = 60_000) =>
      (await run("nsenter", [`--net=/run/netns/${ns}`, "podman", ...args], { env, timeout: timeoutMs, maxBuffer: 16 * 1024 * 1024 })).stdout;
    cleanups.push(() => podman(["rm", "--all", "--force", "--time", "0"]));
    await waitFor(() => ping(socketPath), { timeoutMs: 20_000, intervalMs: 50, what: "the podman API" }).catch((e: Error) => {
      throw new Error(`${e.message}; service log: ${serviceLog}`);
    });
    let stopping: Promise<void> | undefined;
    return { socketPath, host, podman, stop: () => (stopping ??= cleanup()) };
  } catch (e) {
    await cleanup();
    throw e;
  }
}

function podmanEnv(state: string): NodeJS.ProcessEnv {
  return {
    PATH: process.env["PATH"] ?? "/usr/sbin:/usr/bin:/sbin:/bin",
    HOME: state,
    CONTAINERS_CONF: join(state, "etc/containers.conf"),
    CONTAINERS_STORAGE_CONF: join(state, "etc/storage.conf"),
    CONTAINERS_REGISTRIES_CONF: join(state, "etc/registries.conf"),
  };
}

/** Written before the first podman call on the state dir: the database records the storage driver. */
function writeConfig(state: string, limits: { nofile: number; nproc: number }): void {
  for (const d of ["etc", "storage", "run", "tmp", "networks", "events"]) mkdirSync(join(state, d), { recursive: true });
  writeFileSync(
    join(state, "etc/containers.conf"),
    `[containers]
log_driver = "k8s-file"
# No CAP_SYS_RESOURCE here: containers must not ask for more than the hard limits.
default_ulimits = ["nofile=${limits.nofile}:${limits.nofile}", "nproc=${limits.nproc}:${limits.nproc}"]
[engine]
cgroup_manager = "cgroupfs"
events_logger = "file"
events_logfile_path = "${state}/events/events.log"
tmp_dir = "${state}/tmp"
runtime = "runc"
[network]
network_backend = "netavark"
default_subnet = "10.200.50.0/24"
network_config_dir = "${state}/networks"
`,
  );
  writeFileSync(join(state, "etc/registries.conf"), `unqualified-search-registries = []\nshort-name-mode = "disabled"\n`);
  writeFileSync(join(state, "etc/storage.conf"), `[storage]\ndriver = "overlay"\ngraphroot = "${state}/storage"\nrunroot = "${state}/run"\n`);
}

/** This process's hard limits; podman lowers its own NPROC to 32768, so containers cannot have more. */
async function hardLimits(): Promise<{ nofile: number; nproc: number }> {
  const read = async (flag: string, cap: number) => {
    const v = (await run("bash", ["-c", `ulimit ${flag}`])).stdout.trim();
    return v === "unlimited" ? cap : Math.min(cap, Number(v) || cap);
  };
  return { nofile: await read("-Hn", 1048576), nproc: await read("-Hu", 32768) };
}

/** A namespace joined to this one by a /30 veth pair on a subnet no interface here uses. */
async function makeNamespace(ns: string): Promise<{ host: string }> {
  const { stdout } = await run("ip", ["-o", "-4", "addr", "show"]);
  const inUse = new Set([...stdout.matchAll(/inet (\d+\.\d+\.\d+)\.\d+\//g)].map((m) => m[1]));
  let third = process.pid % 250;
  while (inUse.has(`10.251.${third}`)) third = (third + 1) % 250;
  const mine = `10.251.${third}.1`;
  const theirs = `10.251.${third}.2`;
  const outer = `epd${process.pid}h`.slice(0, 15);
  const inner = `epd${process.pid}n`.slice(0, 15);
  await run("ip", ["netns", "del", ns]).catch(() => {});
  await run("ip", ["netns", "add", ns]);
  try {
    await run("ip", ["link", "add", outer, "type", "veth", "peer", "name", inner, "netns", ns]);
    await run("ip", ["addr", "add", `${mine}/30`, "dev", outer]);
    await run("ip", ["link", "set", outer, "up"]);
    await run("ip", ["-n", ns, "addr", "add", `${theirs}/30`, "dev", inner]);
    await run("ip", ["-n", ns, "link", "set", inner, "up"]);
    await run("ip", ["-n", ns, "link", "set", "lo", "up"]);
  } catch (e) {
    await run("ip", ["netns", "del", ns]).catch(() => {});
    throw e;
  }
  return { host: theirs };
}

async function ping(socketPath: string): Promise<boolean> {
  const { request } = await import("node:http");
  return new Promise((resolve) => {
    const req = request({ socketPath, path: "/_ping", timeout: 2000 }, (res) => {
      res.resume();
      resolve(res.statusCode === 200);
    });
    req.on("error", () => resolve(false));
    req.on("timeout", () => req.destroy());
    req.end();
  });
}

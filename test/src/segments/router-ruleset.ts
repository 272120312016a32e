/**
 * The router's nftables ruleset, rendered by the Ansible firewall role from the flow matrix of
 * `ansible/inventories/example/group_vars/all/network.yml` (DESIGN §1) with the playbook
 * operators run, `playbooks/render-router-ruleset.yml`, which also checks it with `nft -c`.
 * Only addresses change: the segments' CIDRs and the scheduler host are this topology's.
 */
import { execFile } from "node:child_process";
import { createHash } from "node:crypto";
import { readFile } from "node:fs/promises";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import { promisify } from "node:util";
import { host, SUBNETS } from "./topology.js";

const run = promisify(execFile);
const ANSIBLE_DIR = fileURLToPath(new URL("../../../ansible/", import.meta.url));

export interface RenderedRuleset {
  file: string;
  text: string;
  sha256: string;
  /** The command, for the report. */
  command: string;
  ms: number;
}

/** The playbook's extra vars: this topology's addresses; no management network or platform (NTP/DNS) servers, so nothing but the matrix is open. */
export function topologyVars(): Record<string, unknown> {
  return {
    enclave_segment_cidrs: { dmz: [`${SUBNETS.dmz}.0/24`], inference: [`${SUBNETS.inference}.0/24`], logging: [`${SUBNETS.logging}.0/24`] },
    enclave_scheduler_addresses: [host("scheduler").address],
    enclave_gpu_node_addresses: [host("gpu1").address, host("gpu2").address],
    enclave_management: { cidrs: [], ssh_port: 22 },
    enclave_ntp_servers: [],
    enclave_dns_servers: [],
  };
}

/** `signal` stops Ansible (the test is being torn down). */
export async function renderRouterRuleset(dir: string, signal?: AbortSignal): Promise<RenderedRuleset> {
  const started = Date.now();
  const file = join(dir, "router.nft");
  const args = ["-i", "inventories/example", "playbooks/render-router-ruleset.yml", "-e", "region=eu_central_1", "-e", `dest=${file}`, "-e", JSON.stringify(topologyVars())];
  try {
    await run("ansible-playbook", args, {
      cwd: ANSIBLE_DIR,
      timeout: 120_000,
      ...(signal ? { signal } : {}),
      maxBuffer: 16 * 1024 * 1024,
      // Ansible ignores an ansible.cfg in a world-writable directory; no colours in the logs.
      env: { ...process.env, ANSIBLE_CONFIG: join(ANSIBLE_DIR, "ansible.cfg"), ANSIBLE_NOCOLOR: "1", ANSIBLE_FORCE_COLOR: "0", ANSIBLE_LOCAL_TEMP: join(dir, "ansible-tmp") },
    });
  } catch (e) {
    const err = e as Error & { stdout?: string; stderr?: string };
    throw new Error(`ansible-playbook playbooks/render-router-ruleset.yml failed: ${err.message}\n${(err.stdout ?? "").slice(-4000)}\n${(err.stderr ?? "").slice(-2000)}`);
  }
  const text = await readFile(file, "utf8");
  return {
    file,
    text,
    sha256: createHash("sha256").update(text).digest("hex"),
    command: `ansible-playbook playbooks/render-router-ruleset.yml -e region=eu_central_1 -e dest=router.nft -e '${JSON.stringify(topologyVars())}'`,
    ms: Date.now() - started,
  };
}

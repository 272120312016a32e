import { BlockList, isIP } from "node:net";
import type { GatewayEgress } from "@enclave/contracts";
import type { UpstreamTarget } from "../upstream/client.js";

/** Why a backend is not dialled; the label of `enclave_gateway_egress_refused_total`. */
export type EgressRefusal = "host_name" | "outside_cidrs" | "port_not_allowed" | "bad_url";

interface Rule {
  net: BlockList;
  cidr: string;
  from: number;
  to: number;
}

/** The configured egress rules, ready to check addresses against; null: unrestricted. */
export interface EgressPolicy {
  rules: readonly Rule[];
}

export function egressPolicy(cfg: GatewayEgress | undefined): EgressPolicy | null {
  if (cfg === undefined) return null;
  return {
    rules: cfg.backends.map((b) => {
      const [addr, bits] = b.cidr.split("/") as [string, string];
      const net = new BlockList();
      net.addSubnet(addr, Number(bits), isIP(addr) === 6 ? "ipv6" : "ipv4");
      const [from, to = from] = b.ports.split("-").map(Number) as [number, number?];
      return { net, cidr: b.cidr, from, to: to! };
    }),
  };
}

export type EgressDecision = { ok: true; target: UpstreamTarget } | { ok: false; reason: EgressRefusal; detail: string };

/**
 * Where a backend URL may be dialled, decided once per route table: the target built
 * from the URL (the only place a request's destination comes from), or why not. With a
 * policy the host must be a literal address (a name could resolve anywhere) inside one
 * rule's network, with the port in that same rule's range.
 */
export function decideEgress(url: string, policy: EgressPolicy | null): EgressDecision {
  let u: URL;
  try {
    u = new URL(url);
  } catch {
    return { ok: false, reason: "bad_url", detail: "not a URL" };
  }
  if (u.protocol !== "http:" && u.protocol !== "https:") return { ok: false, reason: "bad_url", detail: `scheme ${u.protocol} is not http or https` };
  if (u.username !== "" || u.password !== "") return { ok: false, reason: "bad_url", detail: "credentials in a backend URL" };
  const https = u.protocol === "https:";
  const host = u.hostname.startsWith("[") ? u.hostname.slice(1, -1) : u.hostname;
  const port = u.port === "" ? (https ? 443 : 80) : Number(u.port);
  const family = isIP(host);
  const target: UpstreamTarget = { https, host, port, basePath: u.pathname.replace(/\/+$/, ""), origin: `${u.protocol}//${u.host}` };
  if (policy === null) return { ok: true, target };
  if (family === 0) return { ok: false, reason: "host_name", detail: `${u.hostname} is a host name; with egress set, backends must be literal IP addresses` };
  const type = family === 6 ? "ipv6" : "ipv4";
  let inNetwork = false;
  for (const r of policy.rules) {
    if (!r.net.check(host, type)) continue;
    inNetwork = true;
    if (port >= r.from && port <= r.to) return { ok: true, target };
  }
  return inNetwork
    ? { ok: false, reason: "port_not_allowed", detail: `port ${port} is not allowed for ${host}` }
    : { ok: false, reason: "outside_cidrs", detail: `${host} is outside every egress network` };
}

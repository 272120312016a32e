import { test } from "node:test";
import assert from "node:assert/strict";
import { GatewayConfig, GatewayEgress } from "@enclave/contracts";
import { decideEgress, egressPolicy } from "./policy.js";

const policy = egressPolicy(GatewayEgress.parse({
  backends: [
    { cidr: "10.42.0.0/16", ports: "20000-20999" },
    { cidr: "192.168.7.10/32", ports: "8000" },
    { cidr: "fd00:42::/32", ports: "20000-20001" },
  ],
}));

test("egress: an address inside a rule's network and port range is dialled exactly there", () => {
  const d = decideEgress("http://10.42.3.4:20500/base/", policy);
  assert.equal(d.ok, true);
  if (d.ok) assert.deepEqual(d.target, { https: false, host: "10.42.3.4", port: 20500, basePath: "/base", origin: "http://10.42.3.4:20500" });
  for (const url of ["http://10.42.0.0:20000", "http://10.42.255.255:20999", "http://192.168.7.10:8000", "http://[fd00:42::1]:20001", "http://[fd00:42:ffff::9]:20000"]) {
    assert.equal(decideEgress(url, policy).ok, true, url);
  }
  const v6 = decideEgress("http://[fd00:42::1]:20001", policy);
  assert.equal(v6.ok && v6.target.host, "fd00:42::1", "IPv6 is dialled without brackets");
});

test("egress: outside every network, a port outside the rule's range, or a host name is refused with its reason", () => {
  const cases: [string, string][] = [
    ["http://10.43.0.1:20000", "outside_cidrs"],
    ["http://8.8.8.8:20000", "outside_cidrs"],
    ["http://127.0.0.1:20000", "outside_cidrs"],
    ["http://[fd00:43::1]:20000", "outside_cidrs"],
    ["http://[::1]:20000", "outside_cidrs"],
    ["http://10.42.0.1:19999", "port_not_allowed"],
    ["http://10.42.0.1:21000", "port_not_allowed"],
    ["http://10.42.0.1", "port_not_allowed"],
    ["http://192.168.7.10:8001", "port_not_allowed"],
    // A port allowed for another rule's network does not carry over.
    ["http://192.168.7.10:20000", "port_not_allowed"],
    ["http://[fd00:42::1]:20002", "port_not_allowed"],
    ["http://engine-1.inference.internal:20000", "host_name"],
    ["http://localhost:20000", "host_name"],
    ["ftp://10.42.0.1:20000", "bad_url"],
    ["http://user:secret@10.42.0.1:20000", "bad_url"],
    ["not a url", "bad_url"],
  ];
  for (const [url, reason] of cases) {
    const d = decideEgress(url, policy);
    assert.equal(d.ok, false, url);
    if (!d.ok) assert.equal(d.reason, reason, url);
  }
});

test("egress: other spellings of an address are judged by the address they dial", () => {
  // The URL parser normalises these to 10.42.0.1 / 10.0.0.1: what is checked is what would be dialled.
  assert.equal(decideEgress("http://0x0a.42.0.1:20000", policy).ok, true);
  const d = decideEgress("http://167772161:20000", policy);
  assert.equal(d.ok === false && d.reason, "outside_cidrs");
  // IPv4-mapped IPv6 is judged by its IPv4 address.
  assert.equal(decideEgress("http://[::ffff:10.42.0.1]:20000", policy).ok, true);
  const mapped = decideEgress("http://[::ffff:10.43.0.1]:20000", policy);
  assert.equal(mapped.ok === false && mapped.reason, "outside_cidrs");
});

test("egress: without a policy everything parseable is allowed, host names included", () => {
  assert.equal(decideEgress("http://engine-1.internal:8000", null).ok, true);
  assert.equal(decideEgress("ftp://x", null).ok, false);
});

test("egress config: the shape, and errors that say what is expected", () => {
  assert.ok(GatewayEgress.safeParse({ backends: [{ cidr: "10.42.0.0/16", ports: "20000-20999" }] }).success);
  assert.ok(GatewayEgress.safeParse({ backends: [{ cidr: "fd00::/8", ports: "443" }] }).success);
  for (const bad of [
    { backends: [] },
    { backends: [{ cidr: "10.42.0.0", ports: "1" }] },
    { backends: [{ cidr: "10.42.0.0/33", ports: "1" }] },
    { backends: [{ cidr: "fd00::/129", ports: "1" }] },
    { backends: [{ cidr: "example.com/8", ports: "1" }] },
    { backends: [{ cidr: "10.0.0.0/8", ports: "0" }] },
    { backends: [{ cidr: "10.0.0.0/8", ports: "65536" }] },
    { backends: [{ cidr: "10.0.0.0/8", ports: "2000-1000" }] },
    { backends: [{ cidr: "10.0.0.0/8", ports: 8000 }] },
    { backends: [{ cidr: "10.0.0.0/8", ports: "80,443" }] },
    { backends: [{ cidr: "10.0.0.0/8", ports: "80", extra: 1 }] },
  ]) assert.equal(GatewayEgress.safeParse(bad).success, false, JSON.stringify(bad));
  const base = {
    homeRegion: "eu-central-1", listen: { port: 0, plaintext: true },
    tenants: [{ id: "t", regions: ["eu-central-1"] }], audit: { file: "/tmp/x.jsonl" },
    egress: { backends: [{ cidr: "10.42.0.0/16", ports: "20000-20999" }] },
  };
  const named = GatewayConfig.safeParse({ ...base, staticRoutes: [{ model: "m", region: "eu-central-1", jurisdiction: "EU", url: "http://engine.internal:20000" }] });
  assert.equal(named.success, false);
  if (!named.success) {
    const issue = named.error.issues.find((i) => i.path.join(".") === "staticRoutes.0.url");
    assert.match(issue?.message ?? "", /literal IP address/);
  }
  assert.ok(GatewayConfig.safeParse({ ...base, staticRoutes: [{ model: "m", region: "eu-central-1", jurisdiction: "EU", url: "http://10.42.0.5:20000" }] }).success);
});

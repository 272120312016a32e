"""Renders DESIGN §1's flow matrix (group_vars enclave_flow_matrix) as nftables rules.

One pure function, `enclave_firewall(matrix, scope, ...)`, turns the data into the sets and rule
lines of a `table inet enclave`; the templates only print them. Set names: seg_<segment>,
zone_<segment>_<group>, all_segments, mgmt and platform_<service>, each with _v4 and _v6.
Two scopes:

  host    the ruleset of one host: its input chain accepts the flows whose destination it is, its
          output chain the flows whose source it is; a host belongs to a segment through its
          inventory groups (segments.<name>.groups).
  router  the ruleset of the router between the segments: its forward chain accepts the flows
          between two different segments (traffic inside a segment is switched, not routed).

Endpoints: "clients" (any address outside every segment), "<segment>", "<segment>:<group>"
(the hosts of an inventory group; addresses from segments.<segment>.zones.<group>, else the whole
segment) and, in deny rows only, "!<segment>" (anything outside it). Whatever no rule accepts is
dropped; the deny rows come after the allowed flows, each with a named counter, so a denial can
be traced to the row of the matrix that made it.
"""

from __future__ import annotations

import re

from ansible.errors import AnsibleFilterError

PROTOS = ("tcp", "udp")
NAME_RE = re.compile(r"^[a-z][a-z0-9_-]{0,40}$")
PORT_RE = re.compile(r"^([0-9]{1,5})(?:-([0-9]{1,5}))?$")


def _fail(msg):
    raise AnsibleFilterError("enclave_flow_matrix: " + msg)


def _ident(text):
    return re.sub(r"[^a-z0-9_]", "_", text.lower())


def _family(cidr):
    return "v6" if ":" in cidr else "v4"


def _ports(flow):
    ports = flow.get("ports")
    if not isinstance(ports, list) or not ports:
        _fail("flow %s: ports must be a non-empty list" % flow.get("name"))
    out = []
    for p in ports:
        m = PORT_RE.match(str(p).strip())
        if not m or int(m.group(1)) > 65535 or (m.group(2) and not int(m.group(1)) < int(m.group(2)) <= 65535):
            _fail("flow %s: %r is not a port or a port range like 20000-20999" % (flow.get("name"), p))
        out.append(str(p).strip())
    return out


class _Matrix:
    def __init__(self, matrix, management, platform):
        if not isinstance(matrix, dict) or not isinstance(matrix.get("segments"), dict) or not matrix["segments"]:
            _fail("needs a 'segments' mapping")
        self.segments = {}
        for name, seg in matrix["segments"].items():
            if not NAME_RE.match(name) or name == "clients":
                _fail("bad segment name %r" % name)
            cidrs = seg.get("cidrs") or []
            if not isinstance(cidrs, list) or not cidrs:
                _fail("segment %s: cidrs must be a non-empty list" % name)
            zones = seg.get("zones") or {}
            self.segments[name] = {
                "groups": list(seg.get("groups") or []),
                "cidrs": [str(c) for c in cidrs],
                "zones": {z: [str(a) for a in (addrs or [])] for z, addrs in zones.items()},
            }
        self.allow = [self._flow(f, "allow") for f in matrix.get("allow") or []]
        self.deny = [self._deny(f) for f in matrix.get("deny") or []]
        names = [f["name"] for f in self.allow + self.deny]
        dupes = sorted({n for n in names if names.count(n) > 1})
        if dupes:
            _fail("duplicate flow names: %s" % ", ".join(dupes))
        management = management or {}
        self.mgmt_cidrs = [str(c) for c in management.get("cidrs") or []]
        self.ssh_port = str(management.get("ssh_port", 22))
        self.platform = []
        for svc in platform or []:
            if svc.get("proto") not in PROTOS:
                _fail("platform service %s: proto must be tcp or udp" % svc.get("name"))
            self.platform.append({"name": _ident(svc["name"]), "label": str(svc["name"]), "proto": svc["proto"], "ports": _ports(svc),
                                  "to": [str(a) for a in svc.get("to") or []]})
        self.sets = {}

    # -- parsing ---------------------------------------------------------------------------
    def _endpoint(self, text, flow, negatable=False):
        text = str(text)
        neg = text.startswith("!")
        if neg:
            if not negatable:
                _fail("flow %s: only deny rows may use '!segment'" % flow)
            text = text[1:]
        if text == "clients":
            if neg:
                _fail("flow %s: '!clients' means nothing" % flow)
            return {"kind": "clients", "text": text}
        seg, _, group = text.partition(":")
        if seg not in self.segments:
            _fail("flow %s: unknown segment %r (known: %s)" % (flow, seg, ", ".join(sorted(self.segments))))
        if group and group not in self.segments[seg]["groups"]:
            _fail("flow %s: group %r is not in segment %s (groups: %s)" % (flow, group, seg, ", ".join(self.segments[seg]["groups"])))
        if neg and group:
            _fail("flow %s: '!' takes a whole segment" % flow)
        return {"kind": "not" if neg else "segment", "segment": seg, "group": group or None, "text": "!" * neg + text}

    def _flow(self, f, what):
        name = f.get("name")
        if not isinstance(name, str) or not NAME_RE.match(name):
            _fail("every %s row needs a name of lower-case letters, digits, '-' and '_' (got %r)" % (what, name))
        if f.get("proto") not in PROTOS:
            _fail("flow %s: proto must be tcp or udp" % name)
        src = self._endpoint(f.get("from"), name)
        dst = self._endpoint(f.get("to"), name)
        if dst["kind"] == "clients":
            _fail("flow %s: clients are only ever a source" % name)
        return {"name": name, "from": src, "to": dst, "proto": f["proto"], "ports": _ports(f), "why": str(f.get("why", ""))}

    def _deny(self, f):
        name = f.get("name")
        if not isinstance(name, str) or not NAME_RE.match(name):
            _fail("every deny row needs a name (got %r)" % name)
        src = self._endpoint(f.get("from"), name)
        if src["kind"] == "clients":
            _fail("deny row %s: clients are denied by default already" % name)
        dst = self._endpoint(f["to"], name, negatable=True) if f.get("to") is not None else None  # None: anywhere
        return {"name": name, "from": src, "to": dst, "why": str(f.get("why", ""))}

    # -- addresses -------------------------------------------------------------------------
    def _addresses(self, ep):
        seg = self.segments[ep["segment"]]
        if ep["kind"] == "segment" and ep["group"] and seg["zones"].get(ep["group"]):
            return seg["zones"][ep["group"]]
        return seg["cidrs"]

    def _set(self, name, addresses, family):
        """Registers a named set; returns its name (the set may be empty: it then matches nothing)."""
        full = "%s_%s" % (name, family)
        elems = sorted({a for a in addresses if _family(a) == family})
        self.sets[full] = {"name": full, "type": "ipv4_addr" if family == "v4" else "ipv6_addr", "elements": elems}
        return full

    def _all_segments(self, family):
        return self._set("all_segments", [c for s in self.segments.values() for c in s["cidrs"]], family)

    def _match(self, ep, direction, family):
        """nft match for an endpoint as source ('s') or destination ('d'); None if it cannot match in
        this family (a segment or zone without addresses of that family)."""
        key = ("ip " if family == "v4" else "ip6 ") + direction + "addr"
        if ep["kind"] == "clients":
            return "%s != @%s" % (key, self._all_segments(family))
        addrs = self._addresses(ep)
        zone = ep["kind"] == "segment" and ep["group"] and self.segments[ep["segment"]]["zones"].get(ep["group"])
        set_name = "zone_" + _ident(ep["segment"] + "_" + ep["group"]) if zone else "seg_" + _ident(ep["segment"])
        name = self._set(set_name, addrs, family)
        if ep["kind"] == "not":
            return "%s != @%s" % (key, name)
        if not self.sets[name]["elements"]:
            return None
        return "%s @%s" % (key, name)

    # -- membership of a host --------------------------------------------------------------
    def _host_in(self, ep, group_names):
        if ep["kind"] != "segment":
            return False
        if ep["group"]:
            return ep["group"] in group_names
        return any(g in group_names for g in self.segments[ep["segment"]]["groups"])

    @staticmethod
    def _service(proto, ports):
        return "%s dport { %s }" % (proto, ", ".join(ports))

    @staticmethod
    def _comment(name, why):
        text = re.sub(r"[^A-Za-z0-9 ,.:;()/_+-]", "", "%s: %s" % (name, why) if why else name)
        return 'comment "%s"' % text[:120]

    # -- rendering -------------------------------------------------------------------------
    def host(self, group_names):
        rules = {"input": [], "output": [], "forward": []}
        counters = []
        for f in self.allow:
            if self._host_in(f["to"], group_names):
                for fam in ("v4", "v6"):
                    src = self._match(f["from"], "s", fam)
                    if src:
                        rules["input"].append("%s %s accept %s" % (src, self._service(f["proto"], f["ports"]), self._comment(f["name"], f["why"])))
            if self._host_in(f["from"], group_names):
                for fam in ("v4", "v6"):
                    dst = self._match(f["to"], "d", fam)
                    if dst:
                        rules["output"].append("%s %s accept %s" % (dst, self._service(f["proto"], f["ports"]), self._comment(f["name"], f["why"])))
        for svc in self.platform:
            for fam in ("v4", "v6"):
                name = self._set("platform_" + svc["name"], svc["to"], fam)
                if self.sets[name]["elements"]:
                    key = "ip daddr" if fam == "v4" else "ip6 daddr"
                    rules["output"].append("%s @%s %s accept %s" % (key, name, self._service(svc["proto"], svc["ports"]), self._comment("platform-" + svc["label"], "")))
        for d in self.deny:
            counter = "deny_" + _ident(d["name"])
            used = False
            if self._host_in(d["from"], group_names):
                for dst in self._deny_matches(d["to"], "d"):
                    rules["output"].append(" ".join(x for x in (dst, "counter name", counter, "drop", self._comment(d["name"], d["why"])) if x))
                    used = True
            if d["to"] and self._host_in(d["to"], group_names):
                for fam in ("v4", "v6"):
                    src = self._match(d["from"], "s", fam)
                    if src:
                        rules["input"].append("%s counter name %s drop %s" % (src, counter, self._comment(d["name"], d["why"])))
                        used = True
            if used:
                counters.append(counter)
        rules["input"][:0] = self._management_input()
        return self._result(rules, counters)

    def router(self):
        rules = {"input": list(self._management_input()), "output": [], "forward": []}
        counters = []
        for f in self.allow:
            if f["from"]["kind"] == "segment" and f["from"]["segment"] == f["to"]["segment"]:
                continue  # inside one segment: switched, never reaches the router
            for fam in ("v4", "v6"):
                src = self._match(f["from"], "s", fam)
                dst = self._match(f["to"], "d", fam)
                if src and dst:
                    rules["forward"].append("%s %s %s accept %s" % (src, dst, self._service(f["proto"], f["ports"]), self._comment(f["name"], f["why"])))
        for fam in ("v4", "v6"):
            mgmt = self._set("mgmt", self.mgmt_cidrs, fam)
            if self.sets[mgmt]["elements"]:
                key = "ip" if fam == "v4" else "ip6"
                rules["forward"].append("%s saddr @%s %s daddr @%s tcp dport %s accept %s" % (
                    key, mgmt, key, self._all_segments(fam), self.ssh_port, self._comment("management-ssh", "operators reach every host")))
        for svc in self.platform:
            for fam in ("v4", "v6"):
                name = self._set("platform_" + svc["name"], svc["to"], fam)
                if self.sets[name]["elements"]:
                    key = "ip" if fam == "v4" else "ip6"
                    rules["forward"].append("%s saddr @%s %s daddr @%s %s accept %s" % (
                        key, self._all_segments(fam), key, name, self._service(svc["proto"], svc["ports"]), self._comment("platform-" + svc["label"], "")))
        for d in self.deny:
            counter = "deny_" + _ident(d["name"])
            for fam in ("v4", "v6"):
                src = self._match(d["from"], "s", fam)
                dst = self._match(d["to"], "d", fam) if d["to"] else ""
                if src and dst is not None:
                    rules["forward"].append(" ".join(x for x in (src, dst, "counter name", counter, "drop", self._comment(d["name"], d["why"])) if x))
            counters.append(counter)
        return self._result(rules, counters)

    def _deny_matches(self, ep, direction):
        """Destination matches of a deny row on its source host: one per family, or one empty match
        (any destination) when the row names none."""
        if ep is None:
            return [""]
        return [m for m in (self._match(ep, direction, fam) for fam in ("v4", "v6")) if m is not None]

    def _management_input(self):
        out = []
        for fam in ("v4", "v6"):
            name = self._set("mgmt", self.mgmt_cidrs, fam)
            if self.sets[name]["elements"]:
                key = "ip" if fam == "v4" else "ip6"
                icmp = "icmp type echo-request" if fam == "v4" else "icmpv6 type echo-request"
                out.append("%s saddr @%s tcp dport %s accept %s" % (key, name, self.ssh_port, self._comment("management-ssh", "operators and Ansible")))
                out.append("%s saddr @%s %s accept %s" % (key, name, icmp, self._comment("management-ping", "")))
        return out

    def _result(self, rules, counters):
        self._all_segments("v4")
        self._all_segments("v6")
        return {
            "sets": [self.sets[k] for k in sorted(self.sets)],
            "counters": sorted(set(counters)),
            "input": rules["input"],
            "forward": rules["forward"],
            "output": rules["output"],
        }


def enclave_firewall(matrix, scope, group_names=None, management=None, platform=None):
    """Sets, counters and the input/forward/output rule lines of `table inet enclave`."""
    m = _Matrix(matrix, management, platform)
    if scope == "host":
        return m.host(list(group_names or []))
    if scope == "router":
        return m.router()
    raise AnsibleFilterError("enclave_firewall: scope must be 'host' or 'router', not %r" % scope)


class FilterModule:
    def filters(self):
        return {"enclave_firewall": enclave_firewall}

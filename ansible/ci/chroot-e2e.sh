#!/usr/bin/env bash
# Proves the Ansible roles by applying them for real: lint, syntax check, then every role applied
# to a debootstrap'ed Debian root filesystem through the community.general.chroot connection,
# a second apply that must change nothing, and checks of what the play produced.
#
#   chroot-e2e.sh STEP       STEP: tools | lint | pki | release | rootfs | apply | verify | clean | all
#
# Needs root (debootstrap, chroot), the Debian packages that `scripts/setup.sh --test` installs,
# and a built project (`npx tsc -b`). Nothing is mounted into the chroot.
#
# Environment:
#   ENCLAVE_TEST_CACHE    survives between runs: the rootfs tarball and downloaded .debs
#                         (default /var/cache/enclave-test; never inside the repository)
#   ENCLAVE_ANSIBLE_WORK  this run's scratch dir: chroot target, PKI, release archive, play logs
#                         (every step but tools/lint needs it; `all` makes one with mktemp)
#   ENCLAVE_ROOTFS_MAX_AGE_DAYS  rebuild the cached rootfs when older (default 7: apt lists go stale)
#   DEBIAN_MIRROR         default: the host's first apt URI, else http://deb.debian.org/debian
set -euo pipefail

ANSIBLE_DIR=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
REPO=$(cd "$ANSIBLE_DIR/.." && pwd)
CACHE=${ENCLAVE_TEST_CACHE:-/var/cache/enclave-test}
SUITE=bookworm
# Bump when the rootfs recipe below changes: the old tarball is then ignored.
ROOTFS_VERSION=2
ROOTFS_TAR=$CACHE/rootfs-$SUITE-v$ROOTFS_VERSION.tar
APT_CACHE=$CACHE/apt-archives-$SUITE
MAX_AGE_DAYS=${ENCLAVE_ROOTFS_MAX_AGE_DAYS:-7}

export ANSIBLE_CONFIG=$ANSIBLE_DIR/ansible.cfg # ansible ignores ansible.cfg in a world-writable cwd
export ANSIBLE_NOCOLOR=1 ANSIBLE_FORCE_COLOR=0 PY_COLORS=0
INVENTORY=(-i "$ANSIBLE_DIR/inventories/example" -i "$ANSIBLE_DIR/ci/inventory.yml")
LIMIT=(--limit enclave-ci)

exec 3>&1 # timing lines go to the original stdout, whatever a timed command's output is redirected to
die() { echo "chroot-e2e: $*" >&2; exit 1; }
now() { date +%s%N; }
# timed LABEL CMD...: runs CMD and prints "TIMING LABEL 1.23s" (the test collects these lines).
timed() {
  local label=$1 start rc=0
  shift
  start=$(now)
  "$@" || rc=$?
  awk -v l="$label" -v ns="$(($(now) - start))" 'BEGIN { printf "TIMING %s %.2fs\n", l, ns / 1e9 }' >&3
  return $rc
}

work_dir() {
  [ -n "${ENCLAVE_ANSIBLE_WORK:-}" ] || die "ENCLAVE_ANSIBLE_WORK is not set (this run's scratch dir)"
  mkdir -p "$ENCLAVE_ANSIBLE_WORK"
  WORK=$(cd "$ENCLAVE_ANSIBLE_WORK" && pwd)
  case "$WORK/" in "$REPO"/*) die "ENCLAVE_ANSIBLE_WORK must be outside the repository ($WORK)" ;; esac
  TARGET=$WORK/target
  # Read by ci/inventory.yml and the example inventory (apply adds ENCLAVE_CI_RELEASE_ARCHIVE
  # and ENCLAVE_CI_NODE).
  export CHROOT_TARGET=$TARGET
  export ENCLAVE_CREDENTIALS_DIR=$WORK/credentials
  export ENCLAVE_PKI_DIR=$WORK/pki
}

# ---------------------------------------------------------------------------------------------
step_tools() {
  local missing=() t
  for t in ansible-playbook ansible-lint ansible-galaxy debootstrap nft systemd-analyze openssl ip chroot tar node; do
    command -v "$t" >/dev/null 2>&1 || missing+=("$t")
  done
  # The `ansible` package (collections) is what provides the chroot connection.
  if command -v ansible-doc >/dev/null 2>&1; then
    ansible-doc -t connection community.general.chroot >/dev/null 2>&1 || missing+=("community.general collection (Debian package: ansible)")
  fi
  [ ${#missing[@]} -eq 0 ] || die "missing: ${missing[*]} — run scripts/setup.sh --test (as root)"
  [ "$(id -u)" -eq 0 ] || die "must run as root (debootstrap and chroot need it)"
  [ -f "$REPO/cli/dist/main.js" ] || die "the project is not built (cli/dist/main.js missing): run npx tsc -b"
  echo "ansible-core $(ansible-playbook --version | awk 'NR==1 {print $NF}' | tr -d ']'), $(ansible-lint --nocolor --version 2>/dev/null | head -1), $(nft --version), $(systemd-analyze --version | head -1), node $(node --version)"
  echo "TOOLS ok"
}

step_lint() {
  cd "$ANSIBLE_DIR"
  local pb
  for pb in site.yml playbooks/*.yml; do
    timed "syntax-check:$pb" ansible-playbook "${INVENTORY[@]}" --syntax-check "$pb" >/dev/null
  done
  # .ansible-lint: profile production, offline (never fetches schemas or collections).
  timed ansible-lint ansible-lint --nocolor
  echo "LINT ok"
}

# A throwaway CA and the certificates the example inventory names (rsyslog server, audit clients,
# gateway listener). Real sites bring their own PKI; the roles only copy files.
step_pki() {
  work_dir
  # enclave-ci: the CI host (log host and audit sender); intruder: signed by the CA, not permitted.
  timed pki bash "$ANSIBLE_DIR/ci/make-pki.sh" "$ENCLAVE_PKI_DIR" enclave-ci.example.net intruder.example.net
  echo "PKI ok $ENCLAVE_PKI_DIR"
}

step_release() {
  work_dir
  timed release bash "$REPO/scripts/release.sh" "$WORK/release" >"$WORK/release.path" 2>"$WORK/release.log" ||
    { cat "$WORK/release.log" >&2; die "scripts/release.sh failed"; }
  cat "$WORK/release.log"
  echo "RELEASE ok $(tail -n 1 "$WORK/release.path")"
}

mirror() {
  local m=${DEBIAN_MIRROR:-}
  [ -n "$m" ] || m=$(awk '/^URIs:/ {print $2; exit}' /etc/apt/sources.list.d/*.sources 2>/dev/null || true)
  echo "${m:-http://deb.debian.org/debian}"
}

# The cached rootfs: minbase + python3 (Ansible's modules need it; a bare cloud image is bootstrapped
# the same way) + systemd (every real host has it; `systemd-analyze --root` resolves the units'
# dependencies against it) + fresh apt lists, so a warm run needs no network for what is cached.
build_rootfs_cache() {
  local tmp=$CACHE/build.$$
  safe_rm "$tmp"
  mkdir -p "$tmp"
  echo "building the rootfs cache with debootstrap ($(mirror))" >&2
  timed debootstrap debootstrap --variant=minbase --include=python3,python3-apt,systemd "$SUITE" "$tmp/root" "$(mirror)" >"$tmp/debootstrap.log" 2>&1 ||
    { tail -n 20 "$tmp/debootstrap.log" >&2; die "debootstrap failed"; }
  timed apt-update chroot "$tmp/root" apt-get update -qq
  chroot "$tmp/root" apt-get clean
  timed rootfs-tar tar -C "$tmp/root" -cf "$tmp/rootfs.tar" .
  mv -f "$tmp/rootfs.tar" "$ROOTFS_TAR" # atomic: a concurrent run sees the old one or the new one
  find "$CACHE" -maxdepth 1 -name "rootfs-$SUITE-v*.tar" ! -name "$(basename "$ROOTFS_TAR")" -delete # older recipes
  safe_rm "$tmp"
}

step_rootfs() {
  work_dir
  mkdir -p "$CACHE" "$APT_CACHE"
  if [ -f "$ROOTFS_TAR" ] && [ -z "$(find "$ROOTFS_TAR" -mtime +"$MAX_AGE_DAYS")" ]; then
    echo "rootfs cache: warm ($ROOTFS_TAR)"
  else
    build_rootfs_cache
    echo "rootfs cache: cold (built $ROOTFS_TAR)"
  fi
  step_clean_target
  mkdir -p "$TARGET"
  timed rootfs-extract tar -C "$TARGET" -xf "$ROOTFS_TAR"
  # Never start a daemon from a package's postinst (there is no init in a chroot anyway).
  printf '#!/bin/sh\nexit 101\n' >"$TARGET/usr/sbin/policy-rc.d"
  chmod 0755 "$TARGET/usr/sbin/policy-rc.d"
  # Keep what apt downloads, and seed it with what earlier runs downloaded: a warm run installs the
  # same packages without fetching them again.
  echo 'APT::Keep-Downloaded-Packages "true";' >"$TARGET/etc/apt/apt.conf.d/99enclave-ci-keep-debs"
  find "$APT_CACHE" -maxdepth 1 -name '*.deb' -exec cp -t "$TARGET/var/cache/apt/archives/" {} +
  echo "ROOTFS ok $TARGET"
}

# Prints every play's recap line, tagged with the run number, for the test to read.
play() {
  local n=$1 log=$WORK/apply-$1.log rc=0
  shift
  (cd "$ANSIBLE_DIR" && ansible-playbook "${INVENTORY[@]}" "${LIMIT[@]}" site.yml "$@") >"$log" 2>&1 || rc=$?
  grep -E '^[^ ].*: ok=[0-9]+ +changed=' "$log" | sed "s/^/RECAP apply-$n /" || true
  if [ $rc -ne 0 ]; then
    tail -n 60 "$log" >&2
    die "apply $n failed (rc $rc), full log: $log"
  fi
}

step_apply() {
  work_dir
  [ -d "$TARGET/usr" ] || die "no chroot at $TARGET: run the rootfs step first"
  local archive
  archive=$(ls "$WORK"/release/enclave-*.tar.gz 2>/dev/null | head -n 1) || true
  [ -n "$archive" ] || die "no release archive in $WORK/release: run the release step first"
  [ -f "$ENCLAVE_PKI_DIR/ca.pem" ] || die "no PKI in $ENCLAVE_PKI_DIR: run the pki step first"
  export ENCLAVE_CI_RELEASE_ARCHIVE=$archive
  ENCLAVE_CI_NODE=$(readlink -f "$(command -v node)")
  export ENCLAVE_CI_NODE
  timed apply-1 play 1
  # Save what apt downloaded for the next run (only files not cached yet).
  find "$TARGET/var/cache/apt/archives" -maxdepth 1 -name '*.deb' -newer "$ROOTFS_TAR" -exec cp -n -t "$APT_CACHE/" {} + 2>/dev/null || true
  timed apply-2 play 2
  echo "APPLY ok"
}

# ---------------------------------------------------------------------------------------------
# verify: what the play produced, checked with the tools that will read it. Every check prints
# "VERIFY ok NAME" or "VERIFY FAIL NAME" (then its output); the step fails if any failed.
VERIFY_FAILED=0
STARTED_PIDS=()
check() {
  local name=$1 out rc=0
  shift
  out=$("$@" 2>&1) || rc=$?
  if [ $rc -eq 0 ]; then echo "VERIFY ok $name"; else echo "VERIFY FAIL $name"; VERIFY_FAILED=1; fi
  [ -z "$out" ] || printf '%s\n' "$out" | tail -n 40 | sed 's/^/    /'
}
in_chroot() { chroot "$TARGET" "$@"; }
free_port() { node -e 'const s=require("net").createServer().listen(0,"127.0.0.1",()=>{console.log(s.address().port);s.close()})'; }
stop_started() {
  local pid
  for pid in "${STARTED_PIDS[@]}"; do
    kill "$pid" 2>/dev/null || true
    wait "$pid" 2>/dev/null || true
  done
  STARTED_PIDS=()
}

# systemd-analyze verify exits 0 on warnings (a misspelt directive, a bad value): any output fails.
unit_verifies() {
  local out
  out=$(systemd-analyze --root="$TARGET" verify "$1" 2>&1) || { echo "$out"; return 1; }
  [ -z "$out" ] || { echo "$out"; return 1; }
}
unit_hardened() {
  local unit=$TARGET/etc/systemd/system/$1 d missing=()
  for d in NoNewPrivileges=yes ProtectSystem=strict ProtectHome=yes PrivateTmp=yes 'ReadWritePaths=/' 'CapabilityBoundingSet=$' \
    User=enclave Restart=on-failure; do
    grep -Eq "^${d}" "$unit" || missing+=("$d")
  done
  [ ${#missing[@]} -eq 0 ] || { echo "missing in $1: ${missing[*]}"; return 1; }
  # --threshold is on the 0-100 scale of the printed 0.0-10.0 exposure: fail above 2.0.
  systemd-analyze security --offline=yes --root="$TARGET" --threshold=20 "$1" | tail -n 1
}
config_rejects_broken() { # KIND FILE SED: the validator must refuse a broken copy
  sed -e "$3" "$TARGET$2" >"$TARGET/tmp/broken-$1.yaml"
  if in_chroot /usr/local/bin/enclave config check "$1" "/tmp/broken-$1.yaml"; then echo "accepted a broken $1 config"; return 1; fi
  return 0
}
unit_validator_rejects_broken() { # the play's validate: helper (roles/common) must refuse a bad unit
  sed -e 's/^ProtectSystem=strict/ProtectSystem=stricter/' "$TARGET/etc/systemd/system/enclave-gateway.service" >"$TARGET/tmp/broken.service"
  if in_chroot /usr/local/lib/enclave/verify-unit enclave-gateway.service /tmp/broken.service; then echo "accepted a broken unit"; return 1; fi
  return 0
}
release_loads() { # every runtime workspace of the installed release imports with its dependencies
  # shellcheck disable=SC2016
  in_chroot sh -c 'cd /opt/enclave/current && "$0" --input-type=module -e "
    import { existsSync, readFileSync } from \"node:fs\";
    for (const w of JSON.parse(readFileSync(\"package.json\", \"utf8\")).workspaces) {
      if (!existsSync(w + \"/package.json\")) continue; // the test workspace is not released
      const name = JSON.parse(readFileSync(w + \"/package.json\", \"utf8\")).name;
      if (name === \"@enclave/cli\") continue; // its main runs the CLI; config check ran it already
      const m = await import(name);
      console.log(name, Object.keys(m).length, \"exports\");
    }"' /opt/enclave/node/bin/node
}
nft_rejects_broken() {
  sed -e 's/policy drop;/policy dorp;/' "$TARGET/etc/nftables.conf" >"$TARGET/tmp/broken.nft"
  if in_chroot nft -c -f /tmp/broken.nft; then echo "nft -c accepted a broken ruleset"; return 1; fi
  return 0
}
file_modes() { # "MODE OWNER GROUP PATH"...: each path has exactly that mode and owner inside the chroot
  local want got bad=0 mode owner group path
  for want in "$@"; do
    read -r mode owner group path <<<"$want"
    got=$(in_chroot stat -c '%a %U %G' "$path") || { bad=1; continue; }
    [ "$got" = "$mode $owner $group" ] || { echo "$path: $got, want $mode $owner $group"; bad=1; }
  done
  return $bad
}
no_plaintext_secrets() { # no generated secret appears in any rendered config or ACL file
  local secret f bad=0
  while IFS= read -r -d '' f; do
    secret=$(head -n 1 "$f" | cut -d' ' -f1)
    [ ${#secret} -ge 16 ] || continue
    if grep -rlF -- "$secret" "$TARGET/etc/enclave"/*.yaml "$TARGET/etc/redis" "$TARGET/etc/rsyslog.d" 2>/dev/null; then bad=1; fi
  done < <(find "$ENCLAVE_CREDENTIALS_DIR" -type f -print0)
  return $bad
}
redis_e2e() {
  local port uid gid rc=0
  port=$(free_port)
  uid=$(in_chroot id -u redis) && gid=$(in_chroot id -g redis)
  install -d -o "$uid" -g "$gid" -m 0755 "$TARGET/run/redis"
  # The rendered redis.conf and users.acl, as the redis user; only the listener is moved to a
  # free loopback port (the config binds the host's segment address) and the log to stdout.
  chroot --userspec="$uid:$gid" "$TARGET" redis-server /etc/redis/redis.conf --daemonize no \
    --bind 127.0.0.1 --port "$port" --logfile "" >"$WORK/redis.log" 2>&1 &
  STARTED_PIDS+=($!)
  node "$ANSIBLE_DIR/ci/redis-acl-check.mjs" "$port" "$ENCLAVE_CREDENTIALS_DIR" enclave-ci enclave-ci gpu-eu-1 || rc=$?
  stop_started # SIGTERM: Redis saves its RDB snapshot on the way out
  [ -d "$TARGET/var/lib/redis/appendonlydir" ] && echo '{"check":"AOF persistence on (appendonlydir written)","ok":true}' ||
    { echo '{"check":"AOF persistence on (appendonlydir written)","ok":false}'; rc=1; }
  [ -f "$TARGET/var/lib/redis/dump.rdb" ] && echo '{"check":"RDB snapshot written at shutdown","ok":true}' ||
    { echo '{"check":"RDB snapshot written at shutdown","ok":false}'; rc=1; }
  [ $rc -eq 0 ] || tail -n 20 "$WORK/redis.log"
  return $rc
}
audit_e2e() {
  local port rc=0
  port=$(free_port)
  # The rendered receiver, moved to a free loopback port (it binds the host's segment address).
  sed -e 's/address="[^"]*"/address="127.0.0.1"/' -e "s/port=\"[0-9]*\"/port=\"$port\"/" \
    "$TARGET/etc/rsyslog.d/60-enclave-audit.conf" >"$TARGET/tmp/enclave-audit-test.conf"
  chroot "$TARGET" rsyslogd -n -f /tmp/enclave-audit-test.conf -i /tmp/rsyslogd-test.pid >"$WORK/rsyslogd.log" 2>&1 &
  STARTED_PIDS+=($!)
  node "$ANSIBLE_DIR/ci/audit-tls-check.mjs" "$port" "$ENCLAVE_PKI_DIR" enclave-ci.example.net enclave-ci.example.net \
    intruder.example.net "$TARGET/var/log/enclave-audit/eu-central-1/audit.log" || rc=$?
  stop_started
  [ $rc -eq 0 ] || tail -n 20 "$WORK/rsyslogd.log"
  return $rc
}
api_keys_file_parses() { # the gateway's keys file, read with the schema the gateway reads it with
  # shellcheck disable=SC2016
  in_chroot sh -c 'cd /opt/enclave/current && "$0" --input-type=module -e "
    import { readFileSync } from \"node:fs\";
    import { ApiKeysFile, parseConfigText } from \"@enclave/contracts\";
    const keys = parseConfigText(ApiKeysFile, readFileSync(process.argv[1], \"utf8\"), process.argv[1]);
    console.log(process.argv[1] + \": \" + keys.length + \" keys\");" "$1"' /opt/enclave/node/bin/node /etc/enclave/gateway-api-keys.yaml
}
scheduler_audit_ships() { # the scheduler's operator actions go to a spool shipped to the region's sink, TLS files in place
  # shellcheck disable=SC2016
  in_chroot sh -c 'cd /opt/enclave/current && "$0" --input-type=module -e "
    import { existsSync, readFileSync } from \"node:fs\";
    import { SchedulerConfig, parseConfigText } from \"@enclave/contracts\";
    const c = parseConfigText(SchedulerConfig, readFileSync(process.argv[1], \"utf8\"), process.argv[1]);
    const sink = c.audit?.sinks[\"eu-central-1\"];
    if (!c.audit || sink?.type !== \"syslog\") throw new Error(\"no syslog sink for eu-central-1 in the scheduler audit\");
    for (const f of [sink.tls.ca, sink.tls.cert, sink.tls.key.file]) if (!existsSync(f)) throw new Error(f + \" is missing\");
    const pinned = c.auth.nodes.filter((n) => n.region === \"eu-central-1\" && n.jurisdiction === \"EU\").length;
    if (pinned !== c.auth.nodes.length || pinned === 0) throw new Error(\"nodes not pinned to their region\");
    console.log(\"audit spool \" + c.audit.spool.dir + \" → syslog+tls://\" + sink.host + \":\" + sink.port + \"; \" + pinned + \" nodes pinned; metrics on \" + c.metricsListen?.port);" "$1"' /opt/enclave/node/bin/node /etc/enclave/scheduler.yaml
}
gpu_server_renders() { # the real-hardware branch of the gpu_node role (nvidia-smi, Docker, BMC over LAN), rendered and checked
  local dest=$TARGET/tmp/gpu-eu-1 rc=0
  (cd "$ANSIBLE_DIR" && ansible-playbook -i inventories/example playbooks/render-gpu-node.yml -e node=gpu-eu-1 -e dest="$dest") >"$WORK/gpu-node.log" 2>&1 ||
    { tail -n 30 "$WORK/gpu-node.log"; return 1; }
  in_chroot /usr/local/bin/enclave config check agent /tmp/gpu-eu-1/agent.yaml || rc=1
  grep -q '"nvidia-smi"' "$dest/agent.yaml" && grep -q '"docker"' "$dest/agent.yaml" && grep -q 'interface: "open"' "$dest/agent.yaml" ||
    { echo "not the real-hardware config:"; cat "$dest/agent.yaml"; rc=1; }
  cp "$dest/enclave-agent.service" "$TARGET/etc/systemd/system/enclave-agent-gpu.service"
  unit_verifies enclave-agent-gpu.service || rc=1
  grep -Eq '^CapabilityBoundingSet=CAP_SYSLOG$' "$dest/enclave-agent.service" || { echo "no CAP_SYSLOG-only bounding set for /dev/kmsg"; rc=1; }
  grep -Eq '^DeviceAllow=char-ipmidev rw$' "$dest/enclave-agent.service" || { echo "the unit does not let the agent open /dev/ipmi0"; rc=1; }
  rm -f "$TARGET/etc/systemd/system/enclave-agent-gpu.service"
  return $rc
}
router_loads_in_netns() { # the router ruleset loads for real, twice (a reload replaces only its table)
  local ns=enclave-ci-$$ rc=0 listed=""
  ip netns add "$ns"
  { ip netns exec "$ns" nft -f "$WORK/router-eu-central-1.nft" &&
    ip netns exec "$ns" nft -f "$WORK/router-eu-central-1.nft" &&
    listed=$(ip netns exec "$ns" nft list table inet enclave); } || rc=$?
  ip netns del "$ns"
  [ $rc -eq 0 ] || return $rc
  echo "loaded: $(grep -c 'policy drop;' <<<"$listed") chains with policy drop, $(grep -c ' accept comment' <<<"$listed") accept rules"
  [ "$(grep -c 'policy drop;' <<<"$listed")" -eq 3 ]
}
router_ruleset() {
  # The example inventory alone: the router of its eu-central-1 region, without the CI host.
  (cd "$ANSIBLE_DIR" && ansible-playbook -i inventories/example playbooks/render-router-ruleset.yml \
    -e region=eu_central_1 -e dest="$WORK/router-eu-central-1.nft") >"$WORK/router.log" 2>&1 || { tail -n 30 "$WORK/router.log"; return 1; }
  nft -c -f "$WORK/router-eu-central-1.nft"
}

step_verify() {
  work_dir
  [ -x "$TARGET/usr/local/bin/enclave" ] || die "nothing applied in $TARGET: run the apply step first"
  trap stop_started EXIT
  local u
  for u in enclave-gateway.service enclave-scheduler.service enclave-agent.service redis-server.service; do
    check "systemd-analyze verify $u" unit_verifies "$u"
  done
  for u in enclave-gateway.service enclave-scheduler.service enclave-agent.service; do
    check "hardened $u" unit_hardened "$u"
  done
  check "the play's unit validator rejects a broken unit" unit_validator_rejects_broken
  check "the installed release loads every runtime workspace" release_loads
  for u in gateway scheduler agent; do
    check "enclave config check $u /etc/enclave/$u.yaml" in_chroot /usr/local/bin/enclave config check "$u" "/etc/enclave/$u.yaml"
  done
  check "enclave config check rejects a broken agent config" config_rejects_broken agent /etc/enclave/agent.yaml 's/source: "sim"/source: "nvml"/'
  check "nft -c /etc/nftables.conf" in_chroot nft -c -f /etc/nftables.conf
  check "nft -c rejects a broken ruleset" nft_rejects_broken
  check "router ruleset rendered and nft -c ($WORK/router-eu-central-1.nft)" router_ruleset
  check "router ruleset loads into a network namespace" router_loads_in_netns
  check "the gateway's API keys file parses" api_keys_file_parses
  check "the scheduler's audit ships to the region's sink; its nodes are pinned" scheduler_audit_ships
  check "a GPU server's agent config and unit (nvidia-smi, Docker, BMC) render and check out" gpu_server_renders
  check "rsyslogd -N1 (whole rsyslog config)" in_chroot rsyslogd -N1
  check "file modes of configs, secrets and keys" file_modes \
    "750 root enclave /etc/enclave" "750 root enclave /etc/enclave/secrets" \
    "640 root enclave /etc/enclave/gateway.yaml" "640 root enclave /etc/enclave/secrets/node-token" \
    "640 root enclave /etc/enclave/secrets/gateway-scheduler-token" "640 root enclave /etc/enclave/secrets/bmc-password" \
    "640 redis redis /etc/redis/users.acl" "600 root root /etc/rsyslog-enclave-tls/server.key" \
    "640 root enclave /etc/enclave/tls/gateway.key" "750 root enclave /etc/enclave/tls" \
    "640 root enclave /etc/enclave/gateway-api-keys.yaml" \
    "750 enclave enclave /var/spool/enclave-audit" "750 root adm /var/log/enclave-audit/eu-central-1" \
    "750 enclave enclave /var/spool/enclave-audit-scheduler" "640 root enclave /etc/enclave/scheduler-tls/audit-client.key"
  check "no plaintext secret in configs or ACLs" no_plaintext_secrets
  check "redis: persistence and ACLs with BullMQ" redis_e2e
  check "audit receiver: mutual TLS, per-region file" audit_e2e
  [ $VERIFY_FAILED -eq 0 ] || return 1
  echo "VERIFY done"
}

# rm -rf, unless something is mounted below DIR (debootstrap mounts /proc while it runs; deleting
# through a mount would reach the host).
safe_rm() {
  [ -e "$1" ] || return 0
  if awk -v t="$1/" 'index($2 "/", t) == 1 { found = 1 } END { exit !found }' /proc/self/mounts; then
    die "something is mounted below $1; not deleting it"
  fi
  rm -rf "$1"
}

step_clean_target() {
  [ -n "${TARGET:-}" ] || return 0
  safe_rm "$TARGET"
}

step_clean() {
  work_dir
  step_clean_target
  echo "CLEAN ok"
}

step=${1:-}
case "$step" in
  tools) step_tools ;;
  lint) step_lint ;;
  pki) step_pki ;;
  release) step_release ;;
  rootfs) step_rootfs ;;
  apply) step_apply ;;
  verify) timed verify step_verify || die "verification failed (see the VERIFY FAIL lines)" ;;
  clean) step_clean ;;
  all)
    export ENCLAVE_ANSIBLE_WORK=${ENCLAVE_ANSIBLE_WORK:-$(mktemp -d "${TMPDIR:-/var/tmp}/enclave-ansible.XXXXXX")}
    trap 'step_clean >/dev/null' EXIT
    for s in tools lint pki release rootfs apply verify; do "$0" "$s"; done
    ;;
  *) die "usage: chroot-e2e.sh tools|lint|pki|release|rootfs|apply|verify|clean|all" ;;
esac

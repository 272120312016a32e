#!/usr/bin/env bash
# Installs what Enclave needs on a fresh Debian machine (as root), then builds.
# Idempotent: a second run installs nothing and rebuilds only what changed.
set -euo pipefail
cd "$(dirname "$0")/.."

# "command-that-proves-it-is-installed debian-package", one per line ("-" instead of a
# command: the package ships none, so ask dpkg whether it is installed).
# What the local stack needs:
DEBS="
redis-server redis-server
"
# What only the test suite needs (`setup.sh --test`):
TEST_DEBS="
ansible-playbook ansible-core
ansible-community ansible
ansible-lint ansible-lint
debootstrap debootstrap
nft nftables
systemd-analyze systemd
openssl openssl
ip iproute2
podman podman
runc runc
conmon conmon
catatonit catatonit
/usr/lib/podman/netavark netavark
iptables iptables
nsenter util-linux
ipmitool ipmitool
ipmi_sim openipmi
rsyslogd rsyslog
- rsyslog-gnutls
prometheus prometheus
promtool prometheus
"
# What only the benchmarks need (`setup.sh --bench`):
BENCH_DEBS="
rsyslogd rsyslog
- rsyslog-gnutls
openssl openssl
nginx nginx
wrk wrk
"
case "${1:-}" in
  --test) DEBS="$DEBS$TEST_DEBS" ;;
  --bench) DEBS="$DEBS$BENCH_DEBS" ;;
esac
need_debs=()
while read -r cmd pkg; do
  [ -n "$cmd" ] || continue
  if [ "$cmd" = "-" ]; then
    dpkg-query -W -f='${Status}' "$pkg" 2>/dev/null | grep -q "install ok installed" || need_debs+=("$pkg")
    continue
  fi
  command -v "$cmd" >/dev/null 2>&1 || need_debs+=("$pkg")
done <<< "$DEBS"
if [ ${#need_debs[@]} -gt 0 ]; then
  if [ "$(id -u)" -ne 0 ]; then
    echo "missing Debian packages: ${need_debs[*]} (run as root, or install them)" >&2
    exit 1
  fi
  echo "installing ${need_debs[*]}" >&2
  export DEBIAN_FRONTEND=noninteractive
  apt-get update -qq >&2
  apt-get install -y -qq --no-install-recommends "${need_debs[@]}" >&2
fi

# A Debian redis-server package starts a system instance; Enclave never uses it. The same for
# prometheus: the suite runs its own on a free port.

if [ ! -d node_modules ] || [ package-lock.json -nt node_modules/.package-lock.json ]; then
  npm ci --no-audit --no-fund --loglevel=error >&2
fi
npx tsc -b >&2

#!/usr/bin/env bash
# Installs what Enclave needs on a fresh Debian machine (as root), then builds.
# Idempotent: a second run installs nothing and rebuilds only what changed.
set -euo pipefail
cd "$(dirname "$0")/.."

need_debs=()
command -v redis-server >/dev/null 2>&1 || need_debs+=(redis-server)
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

# A Debian redis-server package starts a system instance; Enclave never uses it.

if [ ! -d node_modules ] || [ package-lock.json -nt node_modules/.package-lock.json ]; then
  npm ci --no-audit --no-fund --loglevel=error >&2
fi
npx tsc -b >&2

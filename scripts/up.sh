#!/usr/bin/env bash
# Installs what is missing, builds, and starts the local all-in-one stack
# (private Redis, scheduler, two simulated GPU nodes, gateway on 127.0.0.1:8080).
# Arguments go to `enclave up` (e.g. --json, --port N, --dir DIR).
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/setup.sh
exec node cli/dist/main.js up "$@"

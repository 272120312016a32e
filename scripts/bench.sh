#!/usr/bin/env bash
# Benchmarks (timing goals live here, not in tests): `npm run bench [-- --only PART] [-- --json]`.
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/setup.sh --bench
exec node bench/dist/main.js "$@"

#!/usr/bin/env bash
# The whole test suite: installs what is missing, builds, runs every test file.
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/setup.sh --test
mapfile -t files < <(find . -path ./node_modules -prune -o -path '*/dist/*' -name '*.test.js' -print | grep -v node_modules | sort)
if [ ${#files[@]} -eq 0 ]; then echo "no test files found" >&2; exit 1; fi
exec node --test --test-reporter=spec --test-concurrency="${TEST_CONCURRENCY:-2}" "${files[@]}"

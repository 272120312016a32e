#!/usr/bin/env bash
# Packs the built project into the release archive the Ansible roles install on hosts:
#
#   scripts/release.sh OUT_DIR        (prints the archive's path on its last line)
#
# The archive holds what `node cli/dist/main.js` needs at run time and nothing else:
#   package.json, package-lock.json, each runtime workspace's package.json and dist/ (without
#   tests, declaration files, source maps and build info), and the production dependencies of
#   those workspaces (`npm ls --omit=dev`), workspace links included. Runtime workspaces are cli
#   and the workspaces it depends on, transitively; others (test, bench) and devDependencies
#   (typescript, @types) stay out. Nothing is downloaded: it copies node_modules.
#
# Run `npx tsc -b` first. The name is enclave-<version>-<first 12 hex of the content's sha256>
# .tar.gz, and the archive is reproducible (sorted, fixed owner and mtime, gzip -n), so the same
# build always yields the same name and hosts switch releases only when something changed.
set -euo pipefail
cd "$(dirname "$0")/.."
OUT=${1:?usage: scripts/release.sh OUT_DIR}
mkdir -p "$OUT"
OUT=$(cd "$OUT" && pwd)

[ -f cli/dist/main.js ] || { echo "release: cli/dist/main.js missing; build first (npx tsc -b)" >&2; exit 1; }
version=$(node -p 'require("./package.json").version')
# The runtime workspaces: cli and every workspace it depends on, transitively (not test, bench, ...).
mapfile -t workspaces < <(node -e '
  const fs = require("fs");
  const dirOf = new Map(require("./package.json").workspaces.map((w) => [JSON.parse(fs.readFileSync(w + "/package.json")).name, w]));
  const seen = new Set(["cli"]);
  const todo = ["cli"];
  while (todo.length) {
    const deps = JSON.parse(fs.readFileSync(todo.pop() + "/package.json")).dependencies ?? {};
    for (const name of Object.keys(deps)) {
      const dir = dirOf.get(name);
      if (dir && !seen.has(dir)) { seen.add(dir); todo.push(dir); }
    }
  }
  console.log([...seen].sort().join("\n"));')

stage=$(mktemp -d "${TMPDIR:-/tmp}/enclave-release.XXXXXX")
trap 'rm -rf "$stage"' EXIT
list=$stage/files
{
  echo package.json
  echo package-lock.json
  for w in "${workspaces[@]}"; do
    echo "$w/package.json"
    [ -d "$w/dist" ] && find "$w/dist" -type f ! -name '*.test.*' ! -name '*.map' ! -name '*.d.ts' ! -name '*.tsbuildinfo' | grep -v '/dist/test-support/' || true
  done
  # Production dependency tree of the runtime workspaces. npm ls also reports version problems
  # (exit 1) while still listing every path; the check below catches a tree that is really broken.
  ws_args=()
  for w in "${workspaces[@]}"; do ws_args+=(--workspace "$w"); done
  npm ls --omit=dev --parseable --all "${ws_args[@]}" 2>/dev/null | sed "s#^$PWD/##" | grep '^node_modules/' || true
} | sort -u >"$list"

grep -q '^node_modules/zod$' "$list" || { echo "release: production dependencies not found in node_modules (run npm ci)" >&2; exit 1; }

# Workspace links (node_modules/@enclave/x -> ../../x) are kept as links; the packages themselves
# are listed above. Directories from npm ls are taken whole.
tar --create --file="$stage/enclave.tar" \
  --sort=name --owner=0 --group=0 --numeric-owner --mtime='2000-01-01 00:00:00Z' \
  --exclude='*.md' --exclude='*.markdown' --exclude='*.d.ts' --exclude='*.map' \
  --files-from="$list"
sum=$(sha256sum "$stage/enclave.tar" | cut -c1-12)
name=enclave-$version-$sum
gzip -n -6 <"$stage/enclave.tar" >"$OUT/$name.tar.gz.tmp"
mv -f "$OUT/$name.tar.gz.tmp" "$OUT/$name.tar.gz"
echo "release: $(du -h "$OUT/$name.tar.gz" | cut -f1) $(tar -tzf "$OUT/$name.tar.gz" | wc -l) entries" >&2
echo "$OUT/$name.tar.gz"

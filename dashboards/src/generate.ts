/**
 * Writes the dashboards' JSON models, the alert rule file and the example Prometheus
 * configuration under dashboards/ (`npm run dashboards`); `--check` only compares and
 * exits 1 when a committed file differs from what the code generates.
 */
import { mkdirSync, readFileSync, writeFileSync } from "node:fs";
import { dirname, join } from "node:path";
import { PACKAGE_DIR, generatedFiles } from "./generated-files.js";

const check = process.argv.includes("--check");
const stale: string[] = [];
for (const [path, content] of generatedFiles()) {
  const file = join(PACKAGE_DIR, path);
  let current: string | undefined;
  try {
    current = readFileSync(file, "utf8");
  } catch {
    current = undefined;
  }
  if (current === content) continue;
  if (check) {
    stale.push(path);
    continue;
  }
  mkdirSync(dirname(file), { recursive: true });
  writeFileSync(file, content);
  console.log(`wrote dashboards/${path}`);
}
if (stale.length > 0) {
  console.error(`out of date (run \`npm run dashboards\`): ${stale.map((p) => `dashboards/${p}`).join(", ")}`);
  process.exit(1);
}

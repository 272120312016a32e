import assert from "node:assert/strict";
import { readFileSync } from "node:fs";
import { join } from "node:path";
import { test } from "node:test";
import { PACKAGE_DIR, generatedFiles } from "./generated-files.js";

test("the committed dashboards, rule file and example config are what the code generates (`npm run dashboards` rewrites them)", () => {
  const files = generatedFiles();
  assert.ok(files.size >= 5);
  for (const [path, content] of files) {
    let committed: string;
    try {
      committed = readFileSync(join(PACKAGE_DIR, path), "utf8");
    } catch {
      assert.fail(`dashboards/${path} is missing: run \`npm run dashboards\` and commit it`);
    }
    assert.ok(committed === content, `dashboards/${path} differs from what the code generates: run \`npm run dashboards\` and commit it`);
  }
});

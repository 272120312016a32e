import assert from "node:assert/strict";
import { execFile } from "node:child_process";
import { existsSync, readFileSync, readdirSync } from "node:fs";
import { join } from "node:path";
import { promisify } from "node:util";
import { describe, test } from "node:test";
import { parse } from "yaml";
import { PACKAGE_DIR, RULE_FILE, RULE_TESTS } from "../generated-files.js";
import { ALERTS } from "./rules.js";

const run = promisify(execFile);
const RUNBOOKS = join(PACKAGE_DIR, "..", "docs", "runbooks");

async function promtool(...args: string[]): Promise<string> {
  try {
    const { stdout, stderr } = await run("promtool", args, { cwd: join(PACKAGE_DIR, "prometheus"), timeout: 60_000 });
    return stdout + stderr;
  } catch (e) {
    const err = e as NodeJS.ErrnoException & { stdout?: string; stderr?: string };
    if (err.code === "ENOENT") throw new Error("promtool not found: install the Debian package prometheus (scripts/setup.sh --test does)");
    throw new Error(`promtool ${args.join(" ")} failed:\n${err.stdout ?? ""}${err.stderr ?? ""}`);
  }
}

describe("alert rules", () => {
  test("promtool check rules accepts the rule file", async () => {
    const out = await promtool("check", "rules", RULE_FILE.replace("prometheus/", ""));
    assert.match(out, new RegExp(`SUCCESS: ${ALERTS.length} rules found`));
  });

  test("promtool test rules: every unit test passes", async () => {
    assert.match(await promtool("test", "rules", RULE_TESTS.replace("prometheus/", "")), /SUCCESS/);
  });

  test("every alert has a unit test in which it fires and one in which it stays silent", () => {
    const file = parse(readFileSync(join(PACKAGE_DIR, RULE_TESTS), "utf8")) as { tests: { alert_rule_test?: { alertname: string; exp_alerts: unknown[] }[] }[] };
    const cases = file.tests.flatMap((t) => t.alert_rule_test ?? []);
    for (const a of ALERTS) {
      const mine = cases.filter((c) => c.alertname === a.alert);
      assert.ok(mine.some((c) => c.exp_alerts.length > 0), `${a.alert}: no test where it fires`);
      assert.ok(mine.some((c) => c.exp_alerts.length === 0), `${a.alert}: no test where it stays silent`);
    }
    const known = new Set(ALERTS.map((a) => a.alert));
    for (const c of cases) assert.ok(known.has(c.alertname), `a test for an alert that does not exist: ${c.alertname}`);
  });

  test("names are unique, and every alert links its runbook, which says what it means, how to confirm and what to do", () => {
    assert.equal(new Set(ALERTS.map((a) => a.alert)).size, ALERTS.length);
    const rules = parse(readFileSync(join(PACKAGE_DIR, RULE_FILE), "utf8")) as { groups: { rules: { alert: string; annotations: Record<string, string> }[] }[] };
    for (const r of rules.groups.flatMap((g) => g.rules)) {
      assert.equal(r.annotations.runbook_url, `docs/runbooks/${r.alert}.md`);
      const path = join(RUNBOOKS, `${r.alert}.md`);
      assert.ok(existsSync(path), `docs/runbooks/${r.alert}.md is missing`);
      const text = readFileSync(path, "utf8");
      assert.match(text, new RegExp(`^# ${r.alert}\\b`, "m"), `${r.alert}: its runbook's title`);
      for (const section of ["What it means", "How to confirm", "What to do"]) assert.match(text, new RegExp(`^## ${section}$`, "m"), `${r.alert}: runbook section "${section}"`);
    }
    const runbooks = readdirSync(RUNBOOKS).filter((f) => f.endsWith(".md") && f !== "README.md");
    const known = new Set(ALERTS.map((a) => `${a.alert}.md`));
    for (const f of runbooks) assert.ok(known.has(f), `docs/runbooks/${f} belongs to no alert`);
  });
});

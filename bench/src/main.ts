#!/usr/bin/env node
import { parseArgs } from "node:util";
import { PARTS } from "./parts.js";

const { values } = parseArgs({
  options: { json: { type: "boolean", default: false }, only: { type: "string", multiple: true }, list: { type: "boolean", default: false } },
  strict: true,
});

if (values.list) {
  for (const p of PARTS) process.stdout.write(`${p.name.padEnd(15)} ${p.describe}\n`);
  process.exit(0);
}
const unknown = (values.only ?? []).filter((n) => !PARTS.some((p) => p.name === n));
if (unknown.length > 0) {
  process.stderr.write(`unknown bench part(s): ${unknown.join(", ")}; --list shows them\n`);
  process.exit(2);
}
const selected = PARTS.filter((p) => !values.only || values.only.includes(p.name));
for (const part of selected) {
  const ctx = {
    json: values.json,
    print: (line: string) => (values.json ? process.stderr : process.stdout).write(line + "\n"),
    emit: (record: Record<string, unknown>) => {
      if (values.json) process.stdout.write(JSON.stringify({ part: part.name, ...record }) + "\n");
    },
  };
  ctx.print(`== ${part.name}: ${part.describe}`);
  await part.run(ctx);
}

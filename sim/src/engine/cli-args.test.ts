import { test } from "node:test";
import assert from "node:assert/strict";
import { parseEngineArgs } from "./cli-args.js";

test("parses every option", () => {
  const r = parseEngineArgs([
    "--host", "0.0.0.0", "--port", "8000", "--model", "org/m", "--ttft-ms", "12.5", "--itl-ms", "3",
    "--max-concurrent", "4", "--output-tokens", "32", "--max-model-len", "4096", "--exit-with-parent",
  ]);
  assert.ok(r.ok && !r.args.help);
  assert.equal(r.args.exitWithParent, true);
  assert.deepEqual(r.args.engine, { host: "0.0.0.0", port: 8000, model: "org/m", ttftMs: 12.5, itlMs: 3, maxConcurrent: 4, outputTokens: 32, maxModelLen: 4096 });
});

test("port and model are required; numbers are checked", () => {
  const cases: [string[], RegExp][] = [
    [["--model", "m"], /--port is required/],
    [["--port", "1"], /--model is required/],
    [["--port", "abc", "--model", "m"], /--port must be an integer/],
    [["--port", "70000", "--model", "m"], /--port/],
    [["--port", "1", "--model", "m", "--max-concurrent", "0"], /--max-concurrent/],
    [["--port", "1", "--model", "m", "--output-tokens", "1.5"], /--output-tokens must be an integer/],
    [["--port", "1", "--model", "m", "--bogus"], /bogus/],
    [["--port", "1", "--model", "bad model; rm"], /--model must be a model name/],
    [["--port", "1", "--model", "m", "extra"], /extra|positional/i],
  ];
  for (const [argv, why] of cases) {
    const r = parseEngineArgs(argv);
    assert.ok(!r.ok, argv.join(" "));
    assert.match(r.error, why);
  }
});

test("--help", () => {
  const r = parseEngineArgs(["--help"]);
  assert.ok(r.ok && r.args.help);
});

import assert from "node:assert/strict";
import { describe, test } from "node:test";
import { fixture, replicateCsv } from "../../test-support/fake-nvidia-smi.js";
import { LoopReadings } from "./loop-readings.js";
import { parseQueryCsv } from "./query-csv.js";

const FIELDS = ["index", "uuid", "temperature.gpu", "power.draw"];

/** The real H100 capture as `count` GPUs, cut to FIELDS: a header line and one row per GPU, as nvidia-smi prints them. */
function capture(count: number): { header: string; rows: string[] } {
  const [headerLine = "", ...rowLines] = replicateCsv(fixture("nvidia-smi", "query-gpu", "h100-80gb-hbm3_590.48.01_load.csv"), count).trim().split("\n");
  const names = headerLine.split(", ").map((h) => h.replace(/ \[.*\]$/, ""));
  const heads = headerLine.split(", ");
  const cols = FIELDS.map((f) => names.indexOf(f));
  assert.ok(cols.every((c) => c >= 0));
  return { header: cols.map((c) => heads[c]).join(", "), rows: rowLines.map((r) => cols.map((c) => r.split(", ")[c]).join(", ")) };
}

const uuids = (r: LoopReadings) => {
  const text = r.latest()?.text ?? "";
  const parsed = parseQueryCsv(text);
  assert.ok(parsed.ok, text);
  return parsed.table.rows.map((row) => row["uuid"]?.slice(-2));
};

describe("nvidia-smi loop output", () => {
  test("header once, then rounds: each reading is one round, complete as soon as its last GPU is in", () => {
    const { header, rows } = capture(3);
    const r = new LoopReadings(FIELDS, 3, 500);
    assert.equal(r.push(header, 0), false);
    assert.equal(r.latest(), undefined);
    assert.deepEqual(rows.map((l, i) => r.push(l, i)), [false, false, true]);
    assert.deepEqual(uuids(r), ["00", "01", "02"]);
    assert.match(r.latest()?.text ?? "", /^index, uuid, temperature\.gpu, power\.draw \[W\]\n0, GPU-/);
    rows.forEach((l) => r.push(l.replace(/, 59, /, ", 60, "), 1000));
    assert.equal(r.latest()?.at, 1000);
    assert.match(r.latest()?.text ?? "", /, 60, /);
  });

  test("a GPU gone from a round: the shorter round ends when the next begins, and is the new count", () => {
    const { header, rows } = capture(3);
    const r = new LoopReadings(FIELDS, 3, 500);
    r.push(header, 0);
    for (const l of [rows[0], rows[2]]) assert.equal(r.push(l ?? "", 10), false, "not complete yet: one GPU short");
    assert.equal(r.push(rows[0] ?? "", 1000), true, "the next round's first row ends it");
    assert.deepEqual(uuids(r), ["00", "02"]);
    assert.equal(r.push(rows[2] ?? "", 1001), true, "two rows a round from now on");
    assert.deepEqual(uuids(r), ["00", "02"]);
  });

  test("a GPU more than expected joins the round it came in, never a reading of its own", () => {
    const { header, rows } = capture(2);
    const r = new LoopReadings(FIELDS, 1, 500);
    r.push(header, 0);
    assert.equal(r.push(rows[0] ?? "", 0), true);
    assert.equal(r.push(rows[1] ?? "", 5), true);
    assert.deepEqual(uuids(r), ["00", "01"]);
    r.push(rows[0] ?? "", 1000);
    assert.deepEqual(uuids(r), ["00", "01"], "the first row of the next round does not end a reading of two");
    r.push(rows[1] ?? "", 1001);
    assert.deepEqual(uuids(r), ["00", "01"]);
  });

  test("rounds are told apart by UUID without an index column, and by a repeated header", () => {
    const { rows } = capture(2);
    const noIndex = new LoopReadings(["uuid", "temperature.gpu"], 5, 500);
    noIndex.push("uuid, temperature.gpu", 0);
    const cut = rows.map((l) => l.split(", ").slice(1, 3).join(", "));
    for (const l of [...cut, ...cut]) noIndex.push(l, 0);
    assert.deepEqual(uuids(noIndex), ["00", "01"]);

    const { header } = capture(2);
    const repeated = new LoopReadings(FIELDS, 5, 500);
    for (const l of [header, ...rows, header]) repeated.push(l, 0);
    assert.deepEqual(uuids(repeated), ["00", "01"]);
  });

  test("what comes before the header is kept apart; stray lines go with their round", () => {
    const { header, rows } = capture(1);
    const r = new LoopReadings(FIELDS, 1, 500);
    r.push('Field "power.draw" is not a valid field to query.', 0);
    assert.equal(r.early(), 'Field "power.draw" is not a valid field to query.\n');
    r.push(header, 0);
    r.push("Unable to determine the device handle for GPU 0000:28:00.0: Unknown Error", 0);
    r.push(rows[0] ?? "", 0);
    const parsed = parseQueryCsv(r.latest()?.text ?? "");
    assert.ok(parsed.ok);
    assert.deepEqual(parsed.table.strayLines, ["Unable to determine the device handle for GPU 0000:28:00.0: Unknown Error"]);
  });

  test("garbage never makes a header, so never a reading", () => {
    const r = new LoopReadings(FIELDS, 1, 500);
    for (const l of ["\u001b[1;31m*** segfault in libnvidia-ml", "\u0000\u0001\u00ff ,,,, [[[", ",,,"]) r.push(l, 0);
    assert.equal(r.latest(), undefined);
  });
});

import assert from "node:assert/strict";
import { test } from "node:test";
import { BmcStatus, GpuTelemetry, HealthThresholds, NodeReport } from "@enclave/contracts";
import fc from "fast-check";
import { parseChassisPower } from "../bmc/chassis.js";
import { parseSelElist, parseSelInfoEntries } from "../bmc/sel.js";
import { parseSensorTable } from "../bmc/sensor-table.js";
import { toTelemetry } from "../gpu/gpu-reading.js";
import { parseDetailXml } from "../gpu/nvidia-smi/detail-xml.js";
import { parseQueryCsv } from "../gpu/nvidia-smi/query-csv.js";
import { rowToReading } from "../gpu/nvidia-smi/query-fields.js";
import { parseXid } from "../gpu/xid.js";
import { gpuHealth } from "../health/gpu-health.js";
import { buildNodeReport } from "../report/node-report.js";
import { fixture } from "../test-support/fake-nvidia-smi.js";

/**
 * Whatever a tool prints, the agent neither throws nor builds a report the scheduler would
 * refuse: every value reaching the wire fits the schema.
 */

const T = HealthThresholds.parse({});
const ID = { nodeId: "gpu-1", region: "eu-central-1", jurisdiction: "EU", agentVersion: "0" };
const REAL_HEADER = fixture("nvidia-smi", "query-gpu", "h100-80gb-hbm3_590.48.01_load.csv").split("\n")[0] ?? "";

/** Cells as drivers print them, as broken drivers might, and as nobody should. */
const cell = fc.oneof(
  fc.constantFrom("[N/A]", "N/A", "[Not Supported]", "[Unknown Error]", "[GPU requires reset]", "[Requested functionality has been deprecated]", "", "Yes", "No", "Active", "Enabled", "0x00000000000000FF", "P0"),
  fc.double({ noNaN: false }).map((n) => `${n} W`),
  fc.integer({ min: -1_000_000, max: 1_000_000 }).map((n) => `${n} MiB`),
  fc.string({ maxLength: 40 }).map((s) => s.replace(/[,\n]/g, " ")),
  fc.constantFrom("GPU-00000000-0000-0000-0000-000000000000", "GPU-x"),
);

test("any CSV under the real header gives schema-valid GPUs", () => {
  const fields = REAL_HEADER.split(", ").length;
  fc.assert(
    fc.property(fc.array(fc.array(cell, { minLength: fields, maxLength: fields }), { maxLength: 4 }), (rows) => {
      const text = [REAL_HEADER, ...rows.map((r) => r.join(", "))].join("\n");
      const parsed = parseQueryCsv(text);
      assert.ok(parsed.ok);
      const gpus = parsed.table.rows.flatMap((row, i) => {
        const r = rowToReading(row);
        return r ? [toTelemetry(r, i, gpuHealth({ reading: r, correctedEccPerHour: null, xids: [] }, T), [])] : [];
      });
      for (const g of gpus) GpuTelemetry.parse(g);
      NodeReport.parse(buildNodeReport(ID, 1, { ok: true, gpus }, []));
    }),
    { numRuns: 200 },
  );
});

test("any text as CSV or XML is a value or an error, never an exception", () => {
  fc.assert(
    fc.property(fc.string({ maxLength: 400 }), (text) => {
      const csv = parseQueryCsv(text);
      if (csv.ok) for (const row of csv.table.rows) rowToReading(row);
      const xml = parseDetailXml(text);
      if (xml.ok) for (const g of xml.log.gpus) GpuTelemetry.parse(toTelemetry(g, 0, { state: "healthy", reasons: [] }, []));
      parseXid(text, 0);
    }),
    { numRuns: 300 },
  );
});

test("mangled real XML never yields a GPU that breaks the schema", () => {
  const real = fixture("nvidia-smi", "xml", "a100-sxm4-80gb-mig_535.54.03.xml");
  const values = fc.oneof(fc.constantFrom("N/A", "-5 MiB", "99999999999 C", "Yes", "", "[GPU requires reset]", "&amp;", "<x>"), fc.string({ maxLength: 20 }));
  fc.assert(
    fc.property(fc.array(fc.tuple(fc.nat(), values), { maxLength: 10 }), (edits) => {
      let text = real;
      for (const [at, v] of edits) {
        const tags = [...text.matchAll(/>([^<]*)</g)];
        const m = tags[at % tags.length];
        if (m?.index !== undefined) text = text.slice(0, m.index + 1) + v + text.slice(m.index + 1 + (m[1]?.length ?? 0));
      }
      const xml = parseDetailXml(text);
      if (xml.ok) for (const g of xml.log.gpus) GpuTelemetry.parse(toTelemetry(g, 0, gpuHealth({ reading: g, correctedEccPerHour: null, xids: [] }, T), []));
    }),
    { numRuns: 200 },
  );
});

test("any ipmitool output gives a schema-valid BMC status", () => {
  const line = fc.oneof(
    fc.string({ maxLength: 80 }),
    fc.array(fc.string({ maxLength: 20 }), { minLength: 3, maxLength: 10 }).map((cols) => cols.join(" | ")),
    fc.constantFrom("CPU Temp         | 03h | ucr |  3.1 | 91 degrees C", "   a | 11/22/26 | 06:43:44 UTC | Memory DIMM ECC | Correctable ECC | Asserted", "   1 |  Pre-Init  |0000000506| x | y | Asserted"),
  );
  fc.assert(
    fc.property(fc.array(line, { maxLength: 20 }), (lines) => {
      const text = lines.join("\n");
      BmcStatus.parse({
        available: true,
        time: 1,
        powerOn: parseChassisPower(text),
        sensors: parseSensorTable(text),
        selCount: parseSelInfoEntries(text),
        selEvents: parseSelElist(text),
      });
    }),
    { numRuns: 300 },
  );
});

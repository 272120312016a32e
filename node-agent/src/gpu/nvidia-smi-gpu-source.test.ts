import assert from "node:assert/strict";
import { mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { describe, test, type TestContext } from "node:test";
import { HealthThresholds } from "@enclave/contracts";
import { waitFor } from "@enclave/runtime";
import { KernelLogReader } from "../host/kernel-log.js";
import { appendKmsg, deriveCsv, FakeNvidiaSmi, fixture, replicateCsv, retargetXml } from "../test-support/fake-nvidia-smi.js";
import { isAlive } from "../test-support/processes.js";
import { NvidiaSmiGpuSource } from "./nvidia-smi-gpu-source.js";

const H100_IDLE = fixture("nvidia-smi", "query-gpu", "h100-80gb-hbm3_590.48.01_idle.csv");
const H100_LOAD = fixture("nvidia-smi", "query-gpu", "h100-80gb-hbm3_590.48.01_load.csv");
const H100 = { uuid: "GPU-00000000-0000-0000-0000-000000000000", pciBusId: "00000000:00:09.0" };
/** The Blackwell capture's XML, made to describe the H100 the CSV capture shows (fixtures/README.md). */
const XML = retargetXml(fixture("nvidia-smi", "xml", "rtx-pro-6000-blackwell-maxq_590.44.01.xml"), H100);
const T = HealthThresholds.parse({});

function setup(t: TestContext, opts: { csv?: string; xml?: string; timeoutMs?: number; kernelLog?: string } = {}) {
  const fake = new FakeNvidiaSmi({ csv: opts.csv ?? H100_IDLE, xml: opts.xml ?? XML });
  t.after(() => fake.remove());
  const kernelLog = opts.kernelLog ? new KernelLogReader(opts.kernelLog, { bootTimeMs: () => 0 }) : undefined;
  if (kernelLog) t.after(() => kernelLog.close());
  const source = new NvidiaSmiGpuSource({ path: fake.path, timeoutMs: opts.timeoutMs ?? 5000, detailIntervalMs: 60_000, thresholds: T, ...(kernelLog ? { kernelLog } : {}) });
  return { fake, source };
}

describe("nvidia-smi GPU source", () => {
  test("reads the query and the XML once, merges them and judges health", async (t) => {
    const { fake, source } = setup(t);
    const [g, ...rest] = await source.read();
    assert.equal(rest.length, 0);
    assert.equal(g?.uuid, H100.uuid);
    assert.equal(g?.name, "NVIDIA H100 80GB HBM3");
    assert.equal(g?.temperatureC, 41, "the query's value wins");
    assert.equal(g?.temperatureSlowdownC, 94, "from the XML, which the query cannot give");
    assert.equal(g?.remappedRows?.failure, false);
    assert.deepEqual(g?.health, { state: "healthy", reasons: [] });
    assert.deepEqual(source.problems(), []);
    const calls = fake.calls();
    assert.equal(calls.length, 2);
    assert.match(calls[0] ?? "", /^--query-gpu=index,uuid,name,pci\.bus_id,.*--format=csv$/);
    assert.equal(calls[1], "-q -x");

    fake.clearCalls();
    fake.setCsv(H100_LOAD);
    const [again] = await source.read();
    assert.equal(again?.utilizationPct, 100);
    assert.equal(again?.temperatureSlowdownC, 94, "the XML reading is kept between its reads");
    assert.equal(fake.calls().length, 1, "the XML is read again only after its interval");
  });

  test("a field the driver rejects is dropped, the read still succeeds, and it is not asked for again", async (t) => {
    const { fake, source } = setup(t);
    fake.reject(["clocks_event_reasons.active", "remapped_rows.failure"]);
    const [g] = await source.read();
    assert.equal(g?.health.state, "healthy");
    assert.equal(g?.memoryTotalMiB, 81559);
    assert.equal(g?.remappedRows?.failure, false, "the XML still tells");
    const queries = fake.calls().filter((c) => c.startsWith("--query-gpu"));
    assert.equal(queries.length, 4, "the first, then without each rejected name, then without the throttle field at all");
    assert.ok(queries[1]?.includes("clocks_throttle_reasons.active"), "the older name is tried");
    assert.ok(!queries[3]?.includes("remapped_rows.failure"));
    fake.clearCalls();
    await source.read();
    const next = fake.calls().filter((c) => c.startsWith("--query-gpu"));
    assert.equal(next.length, 1);
    assert.ok(!next[0]?.includes("reasons.active") && !next[0]?.includes("remapped_rows.failure"));
  });

  test("a hung nvidia-smi is killed at the deadline; the GPUs it knew turn unknown with the reason", async (t) => {
    const { fake, source } = setup(t, { timeoutMs: 400 });
    await source.read();
    fake.setMode("hang");
    const started = Date.now();
    const [g] = await source.read();
    assert.ok(Date.now() - started < 3000, "bounded by the timeout, not by the hang");
    assert.equal(g?.uuid, H100.uuid);
    assert.equal(g?.health.state, "unknown");
    assert.match(g?.health.reasons[0] ?? "", /nvidia-smi did not finish within 400 ms and was killed/);
    assert.equal(g?.temperatureC, null, "no stale numbers");
    const pid = fake.hungPid();
    assert.ok(pid);
    assert.throws(() => process.kill(pid, 0), /ESRCH/, "the hung process is gone");
  });

  test("a driver that does not answer, garbage output: unknown with what nvidia-smi said", async (t) => {
    const { fake, source } = setup(t);
    await source.read();
    fake.setMode("driver-failure");
    let [g] = await source.read();
    assert.equal(g?.health.state, "unknown");
    assert.match(g?.health.reasons[0] ?? "", /exited with code 9: NVIDIA-SMI has failed because it couldn't communicate with the NVIDIA driver/);
    fake.setMode("garbage");
    [g] = await source.read();
    assert.equal(g?.health.state, "unknown");
    assert.match(g?.health.reasons[0] ?? "", /no CSV header/);
    fake.setMode("normal");
    [g] = await source.read();
    assert.equal(g?.health.state, "healthy", "and back when it answers again");
  });

  test("no nvidia-smi at all, before any reading: the read fails with the reason", async () => {
    const source = new NvidiaSmiGpuSource({ path: "/nonexistent/nvidia-smi", timeoutMs: 1000, detailIntervalMs: 60_000, thresholds: T });
    await assert.rejects(source.read(), /\/nonexistent\/nvidia-smi: not found/);
  });

  test("a GPU that vanishes from the output stays reported, unknown with the reason", async (t) => {
    const eight = replicateCsv(H100_IDLE, 8);
    const { fake, source } = setup(t, { csv: eight });
    const first = await source.read();
    assert.deepEqual(first.map((g) => g.index), [0, 1, 2, 3, 4, 5, 6, 7]);
    fake.setCsv(eight.split("\n").filter((l) => !l.includes("GPU-00000000-0000-0000-0000-000000000003")).join("\n"));
    const second = await source.read();
    assert.equal(second.length, 8);
    const gone = second.find((g) => g.uuid.endsWith("000000000003"));
    assert.equal(gone?.index, 3);
    assert.equal(gone?.health.state, "unknown");
    assert.match(gone?.health.reasons[0] ?? "", /not in nvidia-smi's output/);
    assert.equal(second.filter((g) => g.health.state === "healthy").length, 7);
    assert.deepEqual(source.problems(), []);
  });

  test("the driver listing fewer GPUs than it has attached is a node finding", async (t) => {
    const { source } = setup(t, { xml: retargetXml(fixture("nvidia-smi", "xml", "a100-sxm4-80gb-mig_535.54.03.xml"), H100) });
    await source.read();
    assert.deepEqual(source.problems(), ["the driver has 4 GPUs attached, nvidia-smi reports 1"]);
  });

  test("failure states (derived from the real capture) fail the GPU", async (t) => {
    const cases: [Record<string, string>, RegExp][] = [
      [{ "ecc.errors.uncorrected.volatile.total": "3" }, /3 volatile uncorrectable ECC/],
      [{ "remapped_rows.failure": "Yes" }, /row remapping failed/],
      [{ "temperature.gpu": "[GPU requires reset]", "power.draw": "[GPU requires reset]" }, /GPU requires reset/],
    ];
    for (const [over, reason] of cases) {
      const { source } = setup(t, { csv: deriveCsv(H100_IDLE, over) });
      const [g] = await source.read();
      assert.equal(g?.health.state, "failed", JSON.stringify(over));
      assert.ok(g?.health.reasons.some((r) => reason.test(r)), JSON.stringify(g?.health.reasons));
    }
    const { source } = setup(t, { csv: deriveCsv(H100_LOAD, { "clocks_event_reasons.active": "0x0000000000000048" }) });
    const [g] = await source.read();
    assert.equal(g?.health.state, "degraded");
    assert.deepEqual(g?.clockEventReasons, ["hw_slowdown", "hw_thermal_slowdown"]);
  });

  test("an Xid in the kernel log fails the GPU at that PCI address, and only that one", async (t) => {
    const dir = mkdtempSync(join(tmpdir(), "enclave-kmsg-"));
    t.after(() => rmSync(dir, { recursive: true, force: true }));
    const kmsg = join(dir, "kmsg");
    writeFileSync(kmsg, "");
    const { source } = setup(t, { csv: replicateCsv(H100_IDLE, 2), kernelLog: kmsg });
    let gpus = await source.read();
    assert.ok(gpus.every((g) => g.health.state === "healthy"));
    // replicateCsv puts GPU 1 at 00000000:28:00.0.
    appendKmsg(kmsg, 1, (Date.now() - 1000) * 1000, "NVRM: Xid (PCI:0000:28:00): 79, pid=0, GPU has fallen off the bus.");
    gpus = await source.read();
    assert.equal(gpus[0]?.health.state, "healthy");
    assert.equal(gpus[1]?.health.state, "failed");
    assert.match(gpus[1]?.health.reasons[0] ?? "", /^Xid 79 at .*GPU has fallen off the bus/);
    assert.equal(gpus[1]?.xidErrors?.[0]?.code, 79);
  });

  test("a GPU that fell off the bus and left nvidia-smi's list is failed by its Xid, not merely unknown", async (t) => {
    const dir = mkdtempSync(join(tmpdir(), "enclave-kmsg-"));
    t.after(() => rmSync(dir, { recursive: true, force: true }));
    const kmsg = join(dir, "kmsg");
    writeFileSync(kmsg, "");
    const two = replicateCsv(H100_IDLE, 2);
    const { fake, source } = setup(t, { csv: two, kernelLog: kmsg });
    await source.read();
    appendKmsg(kmsg, 1, (Date.now() - 1000) * 1000, "NVRM: Xid (PCI:0000:28:00): 79, pid=0, GPU has fallen off the bus.");
    fake.setCsv(two.split("\n").filter((l) => !l.includes("GPU-00000000-0000-0000-0000-000000000001")).join("\n"));
    const gpus = await source.read();
    assert.equal(gpus.length, 2);
    assert.equal(gpus[1]?.health.state, "failed");
    assert.match(gpus[1]?.health.reasons[0] ?? "", /^Xid 79 at .*GPU has fallen off the bus/);
    assert.match(gpus[1]?.health.reasons[1] ?? "", /not in nvidia-smi's output/);
    assert.equal(gpus[1]?.xidErrors?.[0]?.code, 79);
    assert.equal(gpus[0]?.health.state, "healthy");
  });

  test("concurrent reads share one nvidia-smi run", async (t) => {
    const { fake, source } = setup(t);
    const [a, b] = await Promise.all([source.read(), source.read()]);
    assert.deepEqual(a, b);
    assert.equal(fake.calls().length, 2, "one query and one XML read");
  });

  describe("loop mode (nvidia-smi -lms)", () => {
    const INTERVAL = 200;
    function looping(t: TestContext, opts: { csv?: string; timeoutMs?: number } = {}) {
      const fake = new FakeNvidiaSmi({ csv: opts.csv ?? H100_IDLE, xml: XML });
      const source = new NvidiaSmiGpuSource({
        path: fake.path,
        timeoutMs: opts.timeoutMs ?? 1000,
        detailIntervalMs: 60_000,
        thresholds: T,
        loop: { intervalMs: INTERVAL, retryMinMs: 100 },
      });
      // The loop first: it writes into the fake's directory.
      t.after(() => {
        source.close();
        fake.remove();
      });
      const loops = () => fake.calls().filter((c) => c.endsWith(`-lms ${INTERVAL}`));
      return { fake, source, loops };
    }
    const gone = (pid: number | undefined) => pid !== undefined && !isAlive(pid);

    test("after one call answered, reads come from one long-running nvidia-smi, which close() stops", async (t) => {
      const { fake, source, loops } = looping(t);
      await source.read();
      assert.equal(loops().length, 0, "the first read is one call, which also counts the GPUs");
      const [g] = await source.read();
      assert.equal(g?.health.state, "healthy");
      assert.equal(loops().length, 1);
      assert.match(loops()[0] ?? "", /^--query-gpu=index,uuid,name,.* --format=csv -lms 200$/);
      fake.setCsv(H100_LOAD);
      await waitFor(async () => (await source.read())[0]?.utilizationPct === 100, { timeoutMs: 5000, what: "the loop's newer reading" });
      assert.equal(fake.calls().filter((c) => c.startsWith("--query-gpu")).length, 2, "one call, then the loop");
      assert.ok(fake.loopRounds() >= 1);
      const pid = fake.loopPid();
      assert.ok(pid !== undefined && isAlive(pid));
      source.close();
      await waitFor(() => gone(pid), { timeoutMs: 5000, what: "the loop stopped" });
    });

    test("the loop asks only for the fields the driver accepted", async (t) => {
      const { fake, source, loops } = looping(t);
      fake.reject(["clocks_event_reasons.active"]);
      await source.read();
      await source.read();
      assert.equal(loops().length, 1);
      // This capture's driver knows neither name of the throttle field once the newer is rejected.
      assert.ok(loops()[0]?.includes("remapped_rows.failure") && !loops()[0]?.includes("clocks_event_reasons.active") && !loops()[0]?.includes("clocks_throttle_reasons.active"));
    });

    test("a loop that hangs is stopped at its deadline; single calls decide meanwhile, and a new loop follows", async (t) => {
      const { fake, source, loops } = looping(t, { timeoutMs: 500 });
      await source.read();
      await source.read();
      const first = fake.loopPid();
      fake.setMode("hang");
      // Its last reading serves until the deadline (interval + timeout) passes without a new one.
      const started = Date.now();
      const g = await waitFor(
        async () => {
          const [x] = await source.read();
          return x?.health.state === "unknown" ? x : undefined;
        },
        { timeoutMs: 4000, intervalMs: 50, what: "unknown, within the deadlines" },
      );
      assert.ok(Date.now() - started < 4000, "bounded by the deadlines");
      assert.match(g?.health.reasons[0] ?? "", /nvidia-smi did not finish within 500 ms and was killed/, "the single call's verdict");
      await waitFor(() => gone(first), { timeoutMs: 5000, what: "the hung loop killed" });
      fake.setMode("normal");
      await waitFor(async () => (await source.read())[0]?.health.state === "healthy" && loops().length === 2, { timeoutMs: 10_000, what: "a new loop" });
    });

    test("a loop that dies with the driver: unknown with what nvidia-smi said, healthy again once it answers", async (t) => {
      const { fake, source } = looping(t);
      await source.read();
      await source.read();
      fake.setMode("driver-failure");
      await waitFor(async () => (await source.read())[0]?.health.state === "unknown", { timeoutMs: 5000, what: "unknown" });
      const [g] = await source.read();
      assert.match(g?.health.reasons[0] ?? "", /exited with code 9: NVIDIA-SMI has failed because it couldn't communicate with the NVIDIA driver/);
      fake.setMode("normal");
      await waitFor(async () => (await source.read())[0]?.health.state === "healthy", { timeoutMs: 10_000, what: "healthy again" });
    });

    test("a GPU that vanishes while looping is reported unknown; every read still lists all eight", async (t) => {
      const eight = replicateCsv(H100_IDLE, 8);
      const { fake, source } = looping(t, { csv: eight });
      await source.read();
      assert.equal((await source.read()).length, 8);
      fake.setCsv(eight.split("\n").filter((l) => !l.includes("GPU-00000000-0000-0000-0000-000000000003")).join("\n"));
      await waitFor(
        async () => {
          const gpus = await source.read();
          assert.equal(gpus.length, 8);
          const three = gpus.find((g) => g.uuid.endsWith("000000000003"));
          return three?.health.state === "unknown" && gpus.filter((g) => g.health.state === "healthy").length === 7;
        },
        { timeoutMs: 5000, what: "GPU 3 unknown" },
      );
    });

    test("a loop that never prints a reading through the pipe is given up after three tries; single calls go on", async (t) => {
      const { fake, source, loops } = looping(t, { timeoutMs: 300 });
      fake.setMode("silent-loop");
      await source.read();
      await waitFor(async () => (await source.read())[0]?.health.state === "healthy" && loops().length === 3, { timeoutMs: 15_000, what: "three silent loops" });
      for (let i = 0; i < 3; i++) assert.equal((await source.read())[0]?.health.state, "healthy");
      await new Promise((r) => setTimeout(r, 300));
      await source.read();
      assert.equal(loops().length, 3, "no fourth loop");
    });
  });
});

import assert from "node:assert/strict";
import { describe, test } from "node:test";
import { runTool, ToolLane, type ToolOutcome, type ToolRun } from "./run-tool.js";

/** A stand-in for startTool whose calls the test ends by hand: the outcome, and separately the process's exit. */
function manualStart() {
  const runs: { args: readonly string[]; finish(o: ToolOutcome): void; exit(): void }[] = [];
  const start = (_file: string, args: readonly string[]): ToolRun => {
    let finish: (o: ToolOutcome) => void = () => {};
    let exit: () => void = () => {};
    const outcome = new Promise<ToolOutcome>((r) => (finish = r));
    const ended = new Promise<void>((r) => (exit = r));
    runs.push({ args, finish, exit });
    return { outcome, ended };
  };
  return { runs, start };
}
const OPTS = { timeoutMs: 1000, maxOutputBytes: 1024 };
const done = (stdout = ""): ToolOutcome => ({ kind: "exited", code: 0, signal: null, stdout, stderr: "" });
const tick = () => new Promise((r) => setImmediate(r));

describe("tool lane", () => {
  test("one call at a time, in order", async () => {
    const { runs, start } = manualStart();
    const lane = new ToolLane("ipmitool", start);
    const a = lane.run("ipmitool", ["sdr"], OPTS);
    const b = lane.run("ipmitool", ["sel"], OPTS);
    await tick();
    assert.equal(runs.length, 1, "the second waits for the first");
    runs[0]?.exit();
    runs[0]?.finish(done("a"));
    assert.equal(((await a) as { stdout: string }).stdout, "a");
    await tick();
    assert.deepEqual(runs.map((r) => r.args[0]), ["sdr", "sel"]);
    runs[1]?.exit();
    runs[1]?.finish(done("b"));
    assert.equal(((await b) as { stdout: string }).stdout, "b");
  });

  test("a killed call that has not exited blocks new calls, which end at once with the reason, until it exits", async () => {
    const { runs, start } = manualStart();
    const lane = new ToolLane("nvidia-smi", start);
    const hung = lane.run("nvidia-smi", ["-q"], OPTS);
    await tick();
    // Killed at its deadline, but stuck in the kernel: the caller has its outcome, the process lives on.
    runs[0]?.finish({ kind: "timeout", stdout: "", stderr: "" });
    assert.equal((await hung).kind, "timeout");
    const refused = await lane.run("nvidia-smi", ["-q"], OPTS);
    assert.deepEqual(refused, { kind: "spawn-error", error: "an earlier nvidia-smi call was killed and has not exited (stuck in the kernel?); no new one starts until it does" });
    assert.equal(runs.length, 1, "nothing new was started beside it");
    runs[0]?.exit();
    await tick();
    const next = lane.run("nvidia-smi", ["-q"], OPTS);
    await tick();
    assert.equal(runs.length, 2);
    runs[1]?.exit();
    runs[1]?.finish(done());
    assert.equal((await next).kind, "exited");
  });

  test("too many calls waiting: the excess is refused, not queued without end", async () => {
    const { runs, start } = manualStart();
    const lane = new ToolLane("ipmitool", start);
    const waiting = Array.from({ length: 8 }, () => lane.run("ipmitool", ["x"], OPTS));
    assert.deepEqual(await lane.run("ipmitool", ["x"], OPTS), { kind: "spawn-error", error: "ipmitool is busy: too many calls waiting" });
    for (let i = 0; i < 8; i++) {
      await tick();
      runs[i]?.exit();
      runs[i]?.finish(done());
    }
    assert.equal((await Promise.all(waiting)).length, 8);
  });

  test("the real thing: a call's process has exited by the time its outcome arrives, so the next one runs", async () => {
    const lane = new ToolLane("sh");
    for (let i = 0; i < 3; i++) assert.deepEqual(await lane.run("/bin/sh", ["-c", `echo ${i}`], OPTS), done(`${i}\n`));
    // A killed call exits at once here; the lane goes on.
    assert.equal((await lane.run("/bin/sh", ["-c", "sleep 5"], { ...OPTS, timeoutMs: 100 })).kind, "timeout");
    assert.equal((await lane.run("/bin/sh", ["-c", "echo ok"], OPTS)).kind, "exited");
    assert.equal((await runTool("/nonexistent/tool", [], OPTS)).kind, "spawn-error");
    assert.equal((await lane.run("/nonexistent/tool", [], OPTS)).kind, "spawn-error");
    assert.equal((await lane.run("/bin/sh", ["-c", "echo again"], OPTS)).kind, "exited", "a tool that could not start leaves nothing behind");
  });
});

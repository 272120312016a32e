import { NodeJob, type JobResult, type StartJob, type StopJob } from "@enclave/contracts";
import type { BackendSet } from "../backends/backend-set.js";
import { requestContentArg } from "../engine/profiles/engine-profile.js";
import type { EngineSupervisor } from "../supervisor/engine-supervisor.js";

/**
 * How a job ended. `rejected` jobs can never succeed (bad input) and must not be
 * retried; `failed` ones may succeed on a retry (an engine that did not come up).
 */
export type JobOutcome =
  | { kind: "done"; result: JobResult }
  | { kind: "rejected"; reason: string }
  | { kind: "failed"; reason: string };

export interface NodeJobContext {
  backends: BackendSet;
  /** GPU uuids this node has, or undefined when the GPU source cannot tell right now. */
  gpuUuids(): readonly string[] | undefined;
  /** How long an engine may take to become healthy (engines.startupTimeoutMs). */
  startupTimeoutMs: number;
  /** Extra time a start job waits past that for the supervisor's verdict. */
  verdictSlackMs: number;
}

export async function handleNodeJob(data: unknown, ctx: NodeJobContext): Promise<JobOutcome> {
  const parsed = NodeJob.safeParse(data);
  if (!parsed.success) {
    const problems = parsed.error.issues.slice(0, 5).map((i) => `${i.path.join(".") || "(root)"}: ${i.message}`);
    return { kind: "rejected", reason: `invalid node job: ${problems.join("; ")}` };
  }
  const job = parsed.data;
  return job.kind === "start" ? start(job, ctx) : stop(job, ctx);
}

async function start(job: StartJob, ctx: NodeJobContext): Promise<JobOutcome> {
  const logging = requestContentArg(job.args);
  if (logging !== undefined) {
    return { kind: "rejected", reason: `engine argument ${logging.split("=")[0]} would record prompts or completions on the node; the agent never runs an engine with it` };
  }
  const known = ctx.gpuUuids();
  if (known) {
    const unknown = job.gpus.filter((g) => !known.includes(g));
    if (unknown.length > 0) return { kind: "rejected", reason: `no such GPU on this node: ${unknown.join(", ")}` };
  }
  let supervisor: EngineSupervisor;
  try {
    ({ supervisor } = await ctx.backends.ensureStarted(job));
  } catch (e) {
    return { kind: "failed", reason: e instanceof Error ? e.message : String(e) };
  }
  return awaitReady(supervisor, { startupTimeoutMs: ctx.startupTimeoutMs, slackMs: ctx.verdictSlackMs });
}

async function stop(job: StopJob, ctx: NodeJobContext): Promise<JobOutcome> {
  const existed = await ctx.backends.stop(job.backendId);
  return { kind: "done", result: { ok: true, backendId: job.backendId, detail: existed ? "stopped" : "already gone" } };
}

/**
 * Resolves when the backend is ready, or with the reason once it failed or was stopped.
 * Past the startup deadline a backend that is restarting (its start failed, by crash or
 * by the supervisor's own deadline) ends the job too, with why. `slackMs` later the job
 * ends whatever the state, in case no probe result arrives to settle it.
 */
export function awaitReady(s: EngineSupervisor, timing: { startupTimeoutMs: number; slackMs: number }): Promise<JobOutcome> {
  const deadline = Date.now() + timing.startupTimeoutMs;
  return new Promise((resolve) => {
    const check = (): void => {
      const b = s.snapshot();
      if (b.state === "ready") return finish({ kind: "done", result: { ok: true, backendId: b.id, detail: `ready at ${b.baseUrl}` } });
      if (b.state === "failed") return finish({ kind: "failed", reason: `backend ${b.id} failed: ${b.detail ?? "no detail"}` });
      if (b.state === "stopping") return finish({ kind: "failed", reason: `backend ${b.id} was stopped before it became ready` });
      if (b.state === "restarting" && Date.now() >= deadline) {
        return finish({ kind: "failed", reason: `backend ${b.id} not ready within ${timing.startupTimeoutMs} ms: ${b.detail ?? "no detail"}` });
      }
    };
    const finish = (o: JobOutcome): void => {
      clearTimeout(atDeadline);
      clearTimeout(atHardDeadline);
      unsubscribe();
      resolve(o);
    };
    const atDeadline = setTimeout(check, timing.startupTimeoutMs);
    const atHardDeadline = setTimeout(() => {
      const b = s.snapshot();
      finish({ kind: "failed", reason: `backend ${b.id} not ready within ${timing.startupTimeoutMs} ms (${b.state}): ${b.detail ?? "no detail"}` });
    }, timing.startupTimeoutMs + timing.slackMs);
    const unsubscribe = s.subscribe(check);
    check();
  });
}

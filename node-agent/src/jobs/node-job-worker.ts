import { nodeQueueName } from "@enclave/contracts";
import type { Logger } from "@enclave/runtime";
import { UnrecoverableError, Worker } from "bullmq";
import type { Redis } from "ioredis";
import { handleNodeJob, type NodeJobContext } from "./node-job-handler.js";

/** Start jobs wait for their engine; this many may wait at once without holding up a stop. */
const CONCURRENCY = 16;

/**
 * The BullMQ side of jobs: takes them from this node's queue and turns outcomes into
 * BullMQ's terms (a bad job is unrecoverable, so attempts are not wasted on it).
 */
export function startNodeJobWorker(opts: { nodeId: string; connection: Redis; ctx: NodeJobContext; log: Logger }): Worker {
  const { nodeId, connection, ctx, log } = opts;
  const worker = new Worker(
    nodeQueueName(nodeId),
    async (job) => {
      log.info({ jobId: job.id, kind: (job.data as { kind?: unknown } | undefined)?.kind }, "job received");
      const outcome = await handleNodeJob(job.data, ctx);
      switch (outcome.kind) {
        case "done":
          return outcome.result;
        case "rejected":
          throw new UnrecoverableError(outcome.reason);
        case "failed":
          throw new Error(outcome.reason);
      }
    },
    {
      connection,
      concurrency: CONCURRENCY,
      // Bounded history: the scheduler reads results soon after, or not at all.
      removeOnComplete: { age: 3600, count: 1000 },
      removeOnFail: { age: 24 * 3600, count: 1000 },
    },
  );
  worker.on("failed", (job, err) => log.warn({ jobId: job?.id, reason: err.message }, "job failed"));
  worker.on("completed", (job) => log.info({ jobId: job.id, result: job.returnvalue as unknown }, "job done"));
  // Without a listener a Redis outage would be an unhandled 'error' event; BullMQ reconnects by itself.
  worker.on("error", (err) => log.error({ err: err.message }, "job worker error"));
  return worker;
}

import { nodeQueueName, startJobId, stopJobId, type StartJob, type StopJob } from "@enclave/contracts";
import type { Logger } from "@enclave/runtime";
import { Queue, type JobsOptions } from "bullmq";
import type { Redis } from "ioredis";

const JOB_OPTIONS: JobsOptions = {
  attempts: 3,
  backoff: { type: "exponential", delay: 1000 },
  // Kept for a while so a re-add with the same id stays a no-op, then dropped so Redis does not grow.
  removeOnComplete: { age: 3600 },
  removeOnFail: { age: 600 },
};

/** Adds jobs to each node's BullMQ queue. One queue object per node, all on the shared connection. */
export class NodeQueues {
  private readonly queues = new Map<string, Queue>();

  constructor(
    private readonly redis: Redis,
    private readonly log: Logger,
  ) {}

  /** Idempotent: BullMQ ignores an add whose job id already exists. */
  async start(nodeId: string, job: StartJob): Promise<void> {
    await this.queue(nodeId).add("start", job, { ...JOB_OPTIONS, jobId: startJobId(job.replica) });
  }

  async stop(nodeId: string, job: StopJob): Promise<void> {
    await this.queue(nodeId).add("stop", job, { ...JOB_OPTIONS, jobId: stopJobId(job.backendId) });
  }

  async close(): Promise<void> {
    const qs = [...this.queues.values()];
    this.queues.clear();
    await Promise.allSettled(qs.map((q) => q.close()));
  }

  private queue(nodeId: string): Queue {
    let q = this.queues.get(nodeId);
    if (!q) {
      q = new Queue(nodeQueueName(nodeId), { connection: this.redis });
      // An EventEmitter 'error' without a listener would crash the process; connection trouble is logged by the connection.
      q.on("error", (e: Error) => this.log.debug({ err: { message: e.message }, node: nodeId }, "node queue error"));
      this.queues.set(nodeId, q);
    }
    return q;
  }
}

// Checks a Redis started from the scheduler role's redis.conf and users.acl (ci/chroot-e2e.sh
// verify) with the real clients: BullMQ queues and workers, as the scheduler and as two nodes.
//   node redis-acl-check.mjs PORT CREDENTIALS_DIR SCHEDULER_HOST NODE_A NODE_B
// Prints one JSON line per check ({check, ok, detail}); exit 1 if any failed.
import { readFileSync } from "node:fs";
import net from "node:net";
import { Queue, Worker } from "bullmq";
import { Redis } from "ioredis";

const [port, creds, schedulerHost, nodeA, nodeB] = process.argv.slice(2);
if (!nodeB) {
  console.error("usage: redis-acl-check.mjs PORT CREDENTIALS_DIR SCHEDULER_HOST NODE_A NODE_B");
  process.exit(2);
}
const password = (host) => readFileSync(`${creds}/${host}/redis-password`, "utf8").trim();
const conn = (username, pw) => ({ host: "127.0.0.1", port: Number(port), username, password: pw, maxRetriesPerRequest: null, lazyConnect: false });
const scheduler = conn("enclave-scheduler", password(schedulerHost));
const nodeConn = (id) => conn(`enclave-node-${id}`, password(id));
const queueOf = (id) => `enclave-node-${id}`;

let failed = 0;
const report = (check, ok, detail = "") => {
  if (!ok) failed++;
  console.log(JSON.stringify({ check, ok, detail: String(detail).slice(0, 200) }));
};
/** Runs fn; the check passes when it throws an error whose message matches `expected`. */
async function expectError(check, expected, fn) {
  try {
    await fn();
    report(check, false, "no error");
  } catch (e) {
    const msg = e instanceof Error ? e.message : String(e);
    report(check, expected.test(msg), msg);
  }
}
async function withClient(options, fn) {
  const c = new Redis({ ...options, retryStrategy: () => null, enableOfflineQueue: true });
  c.on("error", () => {});
  try {
    return await fn(c);
  } finally {
    c.disconnect();
  }
}
/** The scheduler enqueues a job on node `id`'s queue; that node's worker must complete it. */
async function roundTrip(id) {
  const queue = new Queue(queueOf(id), { connection: scheduler });
  const done = new Promise((resolve, reject) => {
    const worker = new Worker(queueOf(id), async (job) => ({ echoed: job.data.n }), { connection: nodeConn(id) });
    worker.on("completed", (job, result) => worker.close().then(() => resolve(result)));
    worker.on("failed", (job, err) => worker.close().then(() => reject(err)));
    worker.on("error", (err) => worker.close().then(() => reject(err)));
  });
  try {
    await queue.add("start", { n: 42 }, { jobId: `acl-check-${id}` });
    const timeout = new Promise((_, reject) => setTimeout(() => reject(new Error("no completion within 10 s")), 10000).unref());
    const result = await Promise.race([done, timeout]);
    report(`scheduler enqueues on ${queueOf(id)} and ${id}'s worker completes it`, result?.echoed === 42, JSON.stringify(result));
  } finally {
    await queue.close();
  }
}

/** Redis answers a PING on a raw connection (NOAUTH is an answer) within 10 s. */
async function waitReady() {
  const until = Date.now() + 10000;
  for (;;) {
    const answered = await new Promise((resolve) => {
      const s = net.connect({ host: "127.0.0.1", port: Number(port) }, () => s.write("PING\r\n"));
      s.once("data", (d) => { s.destroy(); resolve(/^[+-]/.test(d.toString())); });
      s.once("error", () => resolve(false));
    });
    if (answered) return true;
    if (Date.now() > until) return false;
    await new Promise((r) => setTimeout(r, 100));
  }
}

try {
  report("Redis answers", await waitReady(), `127.0.0.1:${port}`);
  await expectError("the default user is off", /NOAUTH|WRONGPASS|disabled/i, () => withClient({ host: "127.0.0.1", port: Number(port) }, (c) => c.ping()));
  await expectError("a wrong password is refused", /WRONGPASS/i, () => withClient(conn(`enclave-node-${nodeA}`, "not-the-password"), (c) => c.ping()));
  await withClient(scheduler, async (c) => {
    await c.set("enclave:acl-check", "1");
    const v = await c.eval("return redis.call('GET', KEYS[1])", 1, "enclave:acl-check");
    report("the scheduler reads and writes its enclave:* keys (and runs scripts)", v === "1", v);
  });
  await roundTrip(nodeA);
  await roundTrip(nodeB);
  await expectError(`${nodeB} cannot enqueue on ${queueOf(nodeA)}`, /NOPERM/, async () => {
    const q = new Queue(queueOf(nodeA), { connection: nodeConn(nodeB) });
    try {
      await q.add("start", { n: 1 });
    } finally {
      await q.close();
    }
  });
  await expectError(`${nodeB} cannot read the scheduler's keys`, /NOPERM/, () => withClient(nodeConn(nodeB), (c) => c.get("enclave:acl-check")));
  await expectError(`${nodeB} cannot run FLUSHALL`, /NOPERM/, () => withClient(nodeConn(nodeB), (c) => c.flushall()));
  await expectError("the scheduler cannot run FLUSHALL", /NOPERM/, () => withClient(scheduler, (c) => c.flushall()));
} catch (e) {
  report("unexpected error", false, e instanceof Error ? e.stack : e);
}
process.exit(failed === 0 ? 0 : 1);

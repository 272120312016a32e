import { RouteTable } from "@enclave/contracts";
import { backoffMs, delay, type Logger } from "@enclave/runtime";
import type { Dispatcher } from "undici";

export type TableDecision = { adopt: true; table: RouteTable } | { adopt: false; reason: string; invalid: boolean };

/**
 * A table from the scheduler replaces ours only if it is valid as a whole and
 * newer. Anything else keeps the last good table: stale, but never wider.
 */
export function decideTable(current: RouteTable | null, body: unknown): TableDecision {
  const r = RouteTable.safeParse(body);
  if (!r.success) {
    const issue = r.error.issues[0];
    return { adopt: false, invalid: true, reason: `invalid route table (${issue ? `${issue.path.join(".") || "(root)"}: ${issue.message}` : "rejected"})` };
  }
  if (current !== null && r.data.version <= current.version) {
    return { adopt: false, invalid: false, reason: `version ${r.data.version} is not newer than ${current.version}` };
  }
  return { adopt: true, table: r.data };
}

export interface RouteWatchOptions {
  schedulerUrl: string;
  token: string;
  /** Long-poll wait asked of the scheduler. */
  waitMs: number;
  dispatcher: Dispatcher;
  log: Logger;
  current: () => RouteTable | null;
  adopt: (table: RouteTable) => void;
  /** The scheduler answered with a valid table (new or not): ours is known current. */
  confirmed: () => void;
}

export interface RouteWatch {
  stop(): Promise<void>;
}

/** A route table is metadata; one this large is a fault, not a table. */
const MAX_TABLE_BYTES = 32 * 1024 * 1024;
const MAX_BACKOFF_MS = 5000;
/** If the scheduler answers at once without news (no long-poll), don't spin on it. */
const MIN_POLL_INTERVAL_MS = 250;

export function startRouteWatch(o: RouteWatchOptions): RouteWatch {
  const stop = new AbortController();
  const base = o.schedulerUrl.replace(/\/+$/, "");
  const loop = async () => {
    let failures = 0;
    while (!stop.signal.aborted) {
      const startedAt = Date.now();
      const current = o.current();
      try {
        const query = current === null ? `waitMs=${o.waitMs}` : `after=${current.version}&waitMs=${o.waitMs}`;
        const body = await getJson(o.dispatcher, `${base}/v1/routes?${query}`, o.token, o.waitMs, stop.signal);
        const d = decideTable(current, body);
        if (d.adopt === false && d.invalid) throw new Error(d.reason);
        if (d.adopt) o.adopt(d.table);
        o.confirmed();
        if (failures > 0) o.log.info({ failures }, "route watch recovered");
        failures = 0;
        if (d.adopt) o.log.debug({ version: d.table.version, entries: d.table.entries.length }, "route table adopted");
        else if (Date.now() - startedAt < MIN_POLL_INTERVAL_MS) await delay(MIN_POLL_INTERVAL_MS, undefined, { signal: stop.signal });
      } catch (e) {
        if (stop.signal.aborted) break;
        failures++;
        const level = failures === 1 || failures % 20 === 0 ? "warn" : "debug";
        o.log[level]({ failures, err: (e as Error).message, version: current?.version ?? null }, "route watch failed; keeping the last good table");
        await delay(backoffMs(failures - 1, 100, MAX_BACKOFF_MS), undefined, { signal: stop.signal }).catch(() => undefined);
      }
    }
  };
  const done = loop().catch((e: unknown) => {
    if (!stop.signal.aborted) o.log.error({ err: (e as Error).message }, "route watch stopped");
  });
  return {
    async stop() {
      stop.abort();
      await done;
    },
  };
}

async function getJson(dispatcher: Dispatcher, url: string, token: string, waitMs: number, stop: AbortSignal): Promise<unknown> {
  const u = new URL(url);
  const res = await dispatcher.request({
    origin: u.origin,
    path: u.pathname + u.search,
    method: "GET",
    headers: { authorization: `Bearer ${token}`, accept: "application/json" },
    // The scheduler holds the request up to waitMs; give it a margin, then give up.
    headersTimeout: waitMs + 5000,
    bodyTimeout: 10000,
    signal: AbortSignal.any([stop, AbortSignal.timeout(waitMs + 15000)]),
  });
  if (res.statusCode !== 200) {
    await res.body.dump().catch(() => undefined);
    throw new Error(`scheduler answered ${res.statusCode}`);
  }
  const chunks: Buffer[] = [];
  let size = 0;
  for await (const chunk of res.body) {
    size += (chunk as Buffer).length;
    if (size > MAX_TABLE_BYTES) {
      res.body.destroy();
      throw new Error(`route table larger than ${MAX_TABLE_BYTES} bytes`);
    }
    chunks.push(chunk as Buffer);
  }
  try {
    return JSON.parse(Buffer.concat(chunks).toString("utf8"));
  } catch {
    throw new Error("scheduler sent a body that is not JSON");
  }
}

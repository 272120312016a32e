import { request as httpRequest, type IncomingMessage } from "node:http";
import { request as httpsRequest } from "node:https";
import type { Connection } from "./connection.js";

/** The scheduler answered with an error (or could not be reached): its message, for the operator. */
export class SchedulerError extends Error {
  override name = "SchedulerError";
  constructor(
    message: string,
    readonly status: number | null,
    readonly code: string | null,
  ) {
    super(message);
  }
}

const TIMEOUT_MS = 15_000;
/** A thousand nodes' reports are a few megabytes; anything far beyond is not the scheduler talking. */
const MAX_ANSWER_BYTES = 64 * 1024 * 1024;

/** One JSON request to the scheduler's API with the operator token; resolves with the parsed 2xx answer. */
export function callScheduler(conn: Connection, method: "GET" | "PUT" | "POST" | "DELETE", path: string, body?: unknown): Promise<unknown> {
  const url = new URL(conn.url + path);
  const payload = body === undefined ? undefined : JSON.stringify(body);
  const request = url.protocol === "https:" ? httpsRequest : httpRequest;
  return new Promise((resolve, reject) => {
    const req = request(
      url,
      {
        method,
        ...(conn.ca !== undefined ? { ca: conn.ca } : {}),
        headers: {
          authorization: `Bearer ${conn.token}`,
          accept: "application/json",
          ...(payload !== undefined ? { "content-type": "application/json", "content-length": Buffer.byteLength(payload) } : {}),
        },
        timeout: TIMEOUT_MS,
      },
      (res) => readAnswer(res).then((text) => resolve(answerOf(res.statusCode ?? 0, text, method, path)), reject).catch(reject),
    );
    req.on("timeout", () => req.destroy(new Error(`no answer within ${TIMEOUT_MS / 1000} s`)));
    req.on("error", (e: NodeJS.ErrnoException) => reject(new SchedulerError(`cannot reach the scheduler at ${conn.url}: ${e.message}`, null, null)));
    req.end(payload);
  });
}

function readAnswer(res: IncomingMessage): Promise<string> {
  return new Promise((resolve, reject) => {
    const chunks: Buffer[] = [];
    let size = 0;
    res.on("data", (c: Buffer) => {
      size += c.length;
      if (size > MAX_ANSWER_BYTES) {
        res.destroy();
        reject(new SchedulerError(`the scheduler's answer exceeds ${MAX_ANSWER_BYTES} bytes`, res.statusCode ?? null, null));
        return;
      }
      chunks.push(c);
    });
    res.on("end", () => resolve(Buffer.concat(chunks).toString("utf8")));
    res.on("error", reject);
  });
}

function answerOf(status: number, text: string, method: string, path: string): unknown {
  let json: unknown;
  try {
    json = text ? JSON.parse(text) : null;
  } catch {
    throw new SchedulerError(`${method} ${path}: the scheduler answered ${status} with something that is not JSON`, status, null);
  }
  if (status >= 200 && status < 300) return json;
  const err = (json as { error?: { message?: unknown; code?: unknown } } | null)?.error;
  const message = typeof err?.message === "string" ? err.message : `HTTP ${status}`;
  throw new SchedulerError(`${message} (${status}${typeof err?.code === "string" ? ` ${err.code}` : ""})`, status, typeof err?.code === "string" ? err.code : null);
}

import { once } from "node:events";
import type { IncomingMessage, ServerResponse } from "node:http";

export type BodyResult = { ok: true; body: Buffer } | { ok: false; reason: "too-large" };

/**
 * The whole request body, or `too-large` as soon as it passes `limitBytes` (declared or sent),
 * so no more than the limit is ever held. Rejects when the client goes away mid-body.
 */
export function readBody(req: IncomingMessage, limitBytes: number): Promise<BodyResult> {
  const declared = Number(req.headers["content-length"]);
  if (Number.isFinite(declared) && declared > limitBytes) return Promise.resolve({ ok: false, reason: "too-large" });
  return new Promise((resolve, reject) => {
    const chunks: Buffer[] = [];
    let size = 0;
    let settled = false;
    const settle = (fn: () => void) => {
      if (settled) return;
      settled = true;
      req.off("data", onData);
      fn();
    };
    const onData = (chunk: Buffer) => {
      size += chunk.length;
      if (size > limitBytes) {
        chunks.length = 0;
        // Keep reading so the answer can be read by the client; Node discards the rest.
        settle(() => resolve({ ok: false, reason: "too-large" }));
        req.resume();
        return;
      }
      chunks.push(chunk);
    };
    req.on("data", onData);
    req.once("end", () => settle(() => resolve({ ok: true, body: Buffer.concat(chunks, size) })));
    req.once("error", (e) => settle(() => reject(e)));
    req.once("close", () => settle(() => reject(new Error("client closed the connection before sending the whole body"))));
  });
}

export function sendJson(res: ServerResponse, status: number, payload: unknown): void {
  const body = JSON.stringify(payload);
  res.writeHead(status, { "content-type": "application/json", "content-length": Buffer.byteLength(body) });
  res.end(body);
}

export function sendEmpty(res: ServerResponse, status: number): void {
  res.writeHead(status, { "content-length": 0 });
  res.end();
}

/** Writes, and waits for the socket to drain when the client reads slower than we write. */
export async function writeWithBackpressure(res: ServerResponse, data: string, signal: AbortSignal): Promise<void> {
  if (res.write(data)) return;
  await once(res, "drain", { signal });
}

/** Resolves when the signal aborts: what a request that must never be answered waits on. */
export function untilAborted(signal: AbortSignal): Promise<void> {
  return new Promise((resolve) => {
    if (signal.aborted) return resolve();
    signal.addEventListener("abort", () => resolve(), { once: true });
  });
}

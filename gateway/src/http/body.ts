import type { IncomingMessage } from "node:http";

export type BodyResult = { ok: true; body: Buffer } | { ok: false; why: "too_large" | "aborted" };

/**
 * The request body, at most `limit` bytes. A declared length over the limit is refused
 * before a byte is read; a body that grows past it stops being read at once. Bounded
 * memory whatever the client sends.
 */
export function readBody(req: IncomingMessage, limit: number): Promise<BodyResult> | BodyResult {
  const declared = req.headers["content-length"];
  if (declared !== undefined && Number(declared) > limit) return { ok: false, why: "too_large" };
  return new Promise((resolve) => {
    let first: Buffer | null = null;
    let more: Buffer[] | null = null;
    let size = 0;
    let done = false;
    const finish = (r: BodyResult) => {
      if (done) return;
      done = true;
      req.off("data", onData);
      req.off("end", onEnd);
      req.off("error", onAbort);
      req.off("close", onAbort);
      resolve(r);
    };
    const onData = (c: Buffer) => {
      size += c.length;
      if (size > limit) return finish({ ok: false, why: "too_large" });
      if (first === null) first = c;
      else (more ??= [first]).push(c);
    };
    const onEnd = () => finish({ ok: true, body: more !== null ? Buffer.concat(more, size) : first ?? Buffer.alloc(0) });
    const onAbort = () => finish({ ok: false, why: "aborted" });
    req.on("data", onData);
    req.on("end", onEnd);
    req.on("error", onAbort);
    req.on("close", onAbort);
  });
}

import { test, type TestContext } from "node:test";
import assert from "node:assert/strict";
import { mkdtemp, readFile, rm } from "node:fs/promises";
import { createServer, type Server, type Socket } from "node:net";
import type { AddressInfo } from "node:net";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { createServer as createTlsServer } from "node:tls";
import { waitFor } from "@enclave/runtime";
import { TestPki } from "../testing/pki.js";
import { Cancel } from "./cancel.js";
import { createUpstreamClient, type UpstreamClient, type UpstreamResponse, type UpstreamTarget } from "./client.js";

/**
 * The engine client against raw TCP servers that answer exactly the bytes a test scripts,
 * so keep-alive, resends, timeouts and malformed answers are each provoked on purpose.
 */

interface Engine {
  target: UpstreamTarget;
  /** Connections accepted so far. */
  connections: Socket[];
  /** Requests received, as raw text, in order. */
  requests: string[];
  closed: number;
}

/** `answer(request, socket, n)` is called for each whole request (head plus Content-Length body); n counts requests on that connection. */
async function engine(t: TestContext, answer: (req: string, s: Socket, n: number) => void): Promise<Engine> {
  const e: Engine = { target: null as unknown as UpstreamTarget, connections: [], requests: [], closed: 0 };
  const server: Server = createServer((s) => {
    e.connections.push(s);
    s.on("close", () => e.closed++);
    s.on("error", () => undefined);
    let buf = "";
    let n = 0;
    s.on("data", (d: Buffer) => {
      buf += d.toString("latin1");
      for (;;) {
        const end = buf.indexOf("\r\n\r\n");
        if (end < 0) return;
        const len = Number(/content-length: (\d+)/i.exec(buf.slice(0, end))?.[1] ?? 0);
        if (buf.length < end + 4 + len) return;
        const req = buf.slice(0, end + 4 + len);
        buf = buf.slice(end + 4 + len);
        e.requests.push(req);
        answer(req, s, ++n);
      }
    });
  });
  await new Promise<void>((r) => server.listen(0, "127.0.0.1", r));
  const { port } = server.address() as AddressInfo;
  e.target = { https: false, host: "127.0.0.1", port, basePath: "/base", origin: `http://127.0.0.1:${port}` };
  t.after(() => {
    for (const s of e.connections) s.destroy();
    return new Promise<void>((r) => server.close(() => r()));
  });
  return e;
}

function client(t: TestContext, timeouts: Partial<{ connectMs: number; headersMs: number; bodyMs: number }> = {}, idleMs?: number): UpstreamClient {
  const c = createUpstreamClient({ connectMs: 2000, headersMs: 2000, bodyMs: 2000, ...timeouts }, idleMs === undefined ? {} : { idleMs });
  t.after(() => c.close());
  return c;
}

function call(e: Engine, body: string | Buffer = '{"model":"m"}', cancel = new Cancel(), headers: Record<string, string> = { "content-type": "application/json", accept: "*/*" }) {
  return { target: e.target, path: "/v1/chat/completions", headers, body, deadline: performance.now() + 10_000, cancel };
}

function readAll(r: UpstreamResponse): Promise<{ body: string; chunks: number }> {
  return new Promise((resolve, reject) => {
    const parts: Buffer[] = [];
    r.read({ data: (c) => parts.push(Buffer.from(c)), end: () => resolve({ body: Buffer.concat(parts).toString(), chunks: parts.length }), error: reject });
  });
}

const ok = (body: string, extra = "") => `HTTP/1.1 200 OK\r\ncontent-type: application/json\r\n${extra}content-length: ${Buffer.byteLength(body)}\r\n\r\n${body}`;

test("one write carries the request: the path under the backend's base, Host, the headers given, the exact body and its length", async (t) => {
  const e = await engine(t, (_req, s) => s.write(ok("{}")));
  const c = client(t);
  const body = Buffer.from('{"model":"m","messages":[{"role":"user","content":"héllo"}]}');
  await readAll(await c.request(call(e, body)));
  const req = e.requests[0]!;
  const [head, sent] = [req.slice(0, req.indexOf("\r\n\r\n")), req.slice(req.indexOf("\r\n\r\n") + 4)];
  assert.equal(head.split("\r\n")[0], "POST /base/v1/chat/completions HTTP/1.1");
  assert.match(head, new RegExp(`\r\nhost: 127.0.0.1:${e.target.port}\r\n`));
  assert.match(head, /\r\ncontent-type: application\/json\r\n/);
  assert.match(head, new RegExp(`\r\ncontent-length: ${body.length}(\r\n|$)`));
  assert.equal(Buffer.from(sent, "latin1").equals(body), true);
});

test("a header value that could split the request is refused before anything is sent", async (t) => {
  const e = await engine(t, (_req, s) => s.write(ok("{}")));
  const c = client(t);
  await assert.rejects(c.request(call(e, "{}", new Cancel(), { accept: "*/*\r\nx-smuggled: 1" })), /not a plain header/);
  assert.equal(e.connections.length, 0);
});

test("keep-alive: sequential requests share one connection; a response saying close is not reused", async (t) => {
  let closeNext = false;
  const e = await engine(t, (_req, s) => s.write(ok('{"n":1}', closeNext ? "connection: close\r\n" : "")));
  const c = client(t);
  for (let i = 0; i < 3; i++) assert.equal((await readAll(await c.request(call(e)))).body, '{"n":1}');
  assert.equal(e.connections.length, 1);
  closeNext = true;
  await readAll(await c.request(call(e)));
  closeNext = false;
  await readAll(await c.request(call(e)));
  assert.equal(e.connections.length, 2);
  await waitFor(() => e.closed >= 1, { timeoutMs: 2000, what: "the connection answered with close is closed" });
});

test("a body that arrived before anyone read it is delivered whole, then the end", async (t) => {
  const e = await engine(t, (_req, s) => s.write(ok('{"a":"b"}')));
  const c = client(t);
  // Head and body come in one packet: the body is parsed before anyone can have called read().
  const r = await c.request(call(e));
  assert.equal(r.statusCode, 200);
  assert.equal(r.headers["content-type"], "application/json");
  assert.equal((await readAll(r)).body, '{"a":"b"}');
});

test("a chunked stream is passed on chunk by chunk as the engine sends it", async (t) => {
  let sock: Socket | null = null;
  const e = await engine(t, (_req, s, n) => {
    sock = s;
    s.write(n > 1 ? ok("{}") : "HTTP/1.1 200 OK\r\ncontent-type: text/event-stream\r\ntransfer-encoding: chunked\r\n\r\n8\r\ndata: 1\n\r\n");
  });
  const c = client(t);
  const r = await c.request(call(e));
  const got: string[] = [];
  const done = new Promise<void>((resolve, reject) => r.read({ data: (d) => got.push(d.toString()), end: resolve, error: reject }));
  await waitFor(() => got.join("") === "data: 1\n", { timeoutMs: 2000, what: "the first event before the engine sent the second" });
  sock!.write("8\r\ndata: 2\n\r\n0\r\n\r\n");
  await done;
  assert.equal(got.join(""), "data: 1\ndata: 2\n");
  // Read to its end, the connection is kept for the next request.
  await readAll(await c.request(call(e)));
  assert.equal(e.connections.length, 1);
});

test("a pooled connection the engine closed under a new request is retried once on a fresh one; a fresh one that closes is an error", async (t) => {
  const e = await engine(t, (_req, s, n) => {
    if (n === 1) s.write(ok("{}"));
    else s.destroy(); // the second request on a connection: closed unanswered
  });
  const c = client(t);
  await readAll(await c.request(call(e)));
  // Reused connection closes → resent on a new connection, answered there.
  assert.equal((await readAll(await c.request(call(e)))).body, "{}");
  assert.equal(e.connections.length, 2);
  assert.equal(e.requests.length, 3);

  const dropAll = await engine(t, (_req, s) => s.destroy());
  await assert.rejects(client(t).request(call(dropAll)), (err: NodeJS.ErrnoException) => err.code === "ECONNRESET");
  assert.equal(dropAll.requests.length, 1, "a fresh connection is not retried");
});

test("timeouts: no headers in time, and a body that stalls, each fail with their code and close the connection", async (t) => {
  const silent = await engine(t, () => undefined);
  await assert.rejects(client(t, { headersMs: 100 }).request(call(silent)), (err: Error & { code?: string }) => err.code === "headers_timeout");
  await waitFor(() => silent.closed === 1, { timeoutMs: 2000, what: "the timed-out connection closed" });

  const stall = await engine(t, (_req, s) => s.write("HTTP/1.1 200 OK\r\ncontent-length: 10\r\n\r\nabc"));
  const r = await client(t, { bodyMs: 100 }).request(call(stall));
  await assert.rejects(readAll(r), (err: Error & { code?: string }) => err.code === "body_timeout");
});

test("the total deadline and a cancel stop an exchange in any phase", async (t) => {
  const silent = await engine(t, () => undefined);
  const c = client(t);
  await assert.rejects(c.request({ ...call(silent), deadline: performance.now() + 80 }), (err: Error & { code?: string }) => err.code === "total_timeout");

  const slow = await engine(t, (_req, s) => s.write("HTTP/1.1 200 OK\r\ntransfer-encoding: chunked\r\n\r\n1\r\na\r\n"));
  const cancel = new Cancel();
  const r = await c.request(call(slow, "{}", cancel));
  const read = readAll(r);
  cancel.abort("client_disconnected");
  await assert.rejects(read, (err: Error & { code?: string }) => err.code === "cancelled" && err.message === "client_disconnected");
  await waitFor(() => slow.closed === 1, { timeoutMs: 2000, what: "the cancelled connection closed" });

  const already = new Cancel();
  already.abort("gone");
  await assert.rejects(c.request(call(slow, "{}", already)), /gone/);
});

test("closing the client fails the requests in flight, waiting for headers or mid-body, and refuses new ones", async (t) => {
  let answered = 0;
  const e = await engine(t, (_req, s) => {
    if (answered++ === 0) s.write("HTTP/1.1 200 OK\r\ncontent-length: 10\r\n\r\nabc");
  });
  const c = createUpstreamClient({ connectMs: 2000, headersMs: 60_000, bodyMs: 60_000 });
  const midBody = readAll(await c.request(call(e)));
  const waiting = c.request(call(e));
  await waitFor(() => e.requests.length === 2, { timeoutMs: 2000, what: "both requests at the engine" });
  c.close();
  await assert.rejects(midBody, (err: Error & { code?: string }) => err.code === "cancelled");
  await assert.rejects(waiting, (err: Error & { code?: string }) => err.code === "cancelled");
  await assert.rejects(c.request(call(e)), /closed/);
});

test("after a reader's handler cancels or destroys mid-packet, nothing more reaches it: exactly one of end or error, last", async (t) => {
  const e = await engine(t, (_req, s) => s.write("HTTP/1.1 200 OK\r\ntransfer-encoding: chunked\r\n\r\n"));
  const c = client(t);
  const body = "1\r\na\r\n1\r\nb\r\n1\r\nc\r\n0\r\n\r\n"; // three chunks and the end, in one packet
  const cancel = new Cancel();
  const r = await c.request(call(e, "{}", cancel));
  const seen: string[] = [];
  const over = new Promise<void>((resolve) => r.read({
    data: (d) => { seen.push(`data ${d}`); cancel.abort("client_disconnected"); },
    end: () => { seen.push("end"); resolve(); },
    error: () => { seen.push("error"); resolve(); },
  }));
  e.connections[0]!.write(body);
  await over;
  assert.deepEqual(seen, ["data a", "error"]);

  // A buffered body read after the fact: destroy from the first data handler stops the rest.
  const buffered = await engine(t, (_req, s) => s.write(`HTTP/1.1 200 OK\r\ntransfer-encoding: chunked\r\n\r\n${body}`));
  const r2 = await c.request(call(buffered));
  const seen2: string[] = [];
  r2.read({ data: (d) => { seen2.push(`data ${d}`); r2.destroy(); }, end: () => seen2.push("end"), error: () => seen2.push("error") });
  assert.deepEqual(seen2, ["data a"]);
});

test("a reader whose end handler throws hears of it through its error handler, and nothing escapes", async (t) => {
  const e = await engine(t, (_req, s) => s.write("HTTP/1.1 200 OK\r\ntransfer-encoding: chunked\r\n\r\n1\r\na\r\n"));
  const c = client(t);
  const r = await c.request(call(e));
  const failed = new Promise<Error>((resolve) => r.read({ data: () => undefined, end: () => { throw new Error("reader bug"); }, error: resolve }));
  e.connections[0]!.write("0\r\n\r\n");
  assert.equal((await failed).message, "reader bug");
});

test("a malformed answer fails the request and its connection is not reused", async (t) => {
  let good = false;
  const e = await engine(t, (_req, s) => s.write(good ? ok("{}") : "HTTP/1.1 200 OK\r\ncontent-length: 2\r\ntransfer-encoding: chunked\r\n\r\n"));
  const c = client(t);
  await assert.rejects(c.request(call(e)), (err: Error & { code?: string }) => err.code === "bad_response" && /both Transfer-Encoding and Content-Length/.test(err.message));
  good = true;
  await readAll(await c.request(call(e)));
  assert.equal(e.connections.length, 2);
});

test("an answer cut mid-body is an error; one delimited by the close is whole", async (t) => {
  const cut = await engine(t, (_req, s) => s.end("HTTP/1.1 200 OK\r\ncontent-length: 10\r\n\r\nabc"));
  await assert.rejects(readAll(await client(t).request(call(cut))), (err: Error & { code?: string }) => err.code === "ECONNRESET" && /mid-answer/.test(err.message));
  const untilClose = await engine(t, (_req, s) => s.end("HTTP/1.1 200 OK\r\ncontent-type: text/plain\r\n\r\nall of it"));
  assert.equal((await readAll(await client(t).request(call(untilClose)))).body, "all of it");
});

test("discard drains the answer and keeps the connection; destroy closes it", async (t) => {
  const e = await engine(t, (_req, s, n) => s.write(n < 3 ? "HTTP/1.1 500 Internal Server Error\r\ncontent-length: 5\r\n\r\noops!" : "HTTP/1.1 200 OK\r\ncontent-length: 10\r\n\r\npart"));
  const c = client(t);
  (await c.request(call(e))).discard();
  (await c.request(call(e))).discard();
  assert.equal(e.connections.length, 1);
  // Cut mid-answer: the connection cannot carry another request.
  (await c.request(call(e))).destroy();
  await waitFor(() => e.closed === 1, { timeoutMs: 2000, what: "the destroyed exchange's connection closed" });
});

test("idle connections are closed after idleMs; a refused connection reports ECONNREFUSED", async (t) => {
  const e = await engine(t, (_req, s) => s.write(ok("{}")));
  const c = client(t, {}, 50);
  await readAll(await c.request(call(e)));
  await waitFor(() => e.closed === 1, { timeoutMs: 3000, what: "the idle connection closed by the client" });
  await readAll(await c.request(call(e)));
  assert.equal(e.connections.length, 2);

  const dead = { ...e.target, port: 1 };
  await assert.rejects(c.request({ ...call(e), target: dead }), (err: NodeJS.ErrnoException) => err.code === "ECONNREFUSED");
});

test("unsolicited bytes on an idle connection close it rather than confuse the next answer", async (t) => {
  const e = await engine(t, (_req, s) => {
    s.write(ok("{}"));
    setTimeout(() => s.write("HTTP/1.1 200 OK\r\ncontent-length: 5\r\n\r\nstale"), 20);
  });
  const c = client(t);
  await readAll(await c.request(call(e)));
  await waitFor(() => e.closed === 1, { timeoutMs: 2000, what: "the connection that spoke out of turn closed" });
  assert.equal((await readAll(await c.request(call(e)))).body, "{}");
});

test("an https backend is dialled over TLS and its certificate verified: one from an unknown CA is refused before any request is sent", async (t) => {
  const dir = await mkdtemp(join(tmpdir(), "enclave-upstream-tls-"));
  t.after(() => rm(dir, { recursive: true, force: true }));
  const pki = await TestPki.create(dir);
  const ca = await pki.ca("unknown-ca");
  const leaf = await pki.issue(ca, "engine", "127.0.0.1", "IP:127.0.0.1", "serverAuth");
  let requests = 0;
  const server = createTlsServer({ cert: await readFile(leaf.cert), key: await readFile(leaf.key) }, (s) => {
    s.on("data", () => requests++);
    s.on("error", () => undefined);
  });
  await new Promise<void>((r) => server.listen(0, "127.0.0.1", r));
  t.after(() => new Promise<void>((r) => server.close(() => r())));
  const { port } = server.address() as AddressInfo;
  const target: UpstreamTarget = { https: true, host: "127.0.0.1", port, basePath: "", origin: `https://127.0.0.1:${port}` };
  await assert.rejects(client(t).request({ ...call({ target } as Engine) }), (err: NodeJS.ErrnoException) => /CERT|SELF_SIGNED|UNABLE_TO_VERIFY/.test(err.code ?? ""));
  assert.equal(requests, 0);
});

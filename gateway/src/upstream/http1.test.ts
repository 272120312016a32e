import { test } from "node:test";
import assert from "node:assert/strict";
import { ResponseParser, type ResponseHead, MAX_HEAD_BYTES } from "./http1.js";

interface Parsed {
  heads: ResponseHead[];
  body: Buffer;
  ends: boolean[];
}

/** Feeds `wire` in pieces cut at `cuts`; then `close()` when asked. */
function parse(wire: Buffer | string, cuts: number[] = [], close = false): Parsed {
  const buf = typeof wire === "string" ? Buffer.from(wire, "latin1") : wire;
  const out: Parsed = { heads: [], body: Buffer.alloc(0), ends: [] };
  const chunks: Buffer[] = [];
  const p = new ResponseParser({ head: (h) => out.heads.push(h), body: (c) => chunks.push(Buffer.from(c)), end: (extra) => out.ends.push(extra) });
  let at = 0;
  for (const c of [...cuts, buf.length]) {
    if (c > at) p.push(buf.subarray(at, c));
    at = Math.max(at, c);
  }
  if (close) p.close();
  out.body = Buffer.concat(chunks);
  return out;
}

/** Every split of `wire` into two and three pieces parses the same. */
function everySplit(wire: string, check: (p: Parsed) => void, close = false): void {
  const n = Buffer.byteLength(wire, "latin1");
  check(parse(wire, [], close));
  for (let i = 1; i < n; i++) {
    check(parse(wire, [i], close));
    check(parse(wire, [i, Math.min(n, i + 3)], close));
  }
}

const JSON_BODY = '{"id":"x","usage":{"prompt_tokens":3}}';

test("content-length: head and exact body, whatever the packet boundaries; repeated headers as node:http gives them", () => {
  const wire = `HTTP/1.1 200 OK\r\nContent-Type: application/json\r\nSet-Cookie: a=1\r\nset-cookie: b=2\r\nX-A: 1\r\nx-a:  2 \r\nContent-Length: ${JSON_BODY.length}\r\n\r\n${JSON_BODY}`;
  everySplit(wire, (p) => {
    assert.equal(p.heads.length, 1);
    const h = p.heads[0]!;
    assert.equal(h.status, 200);
    assert.equal(h.keepAlive, true);
    assert.equal(h.headers["content-type"], "application/json");
    assert.deepEqual(h.headers["set-cookie"], ["a=1", "b=2"]);
    assert.equal(h.headers["x-a"], "1, 2");
    assert.equal(p.body.toString(), JSON_BODY);
    assert.deepEqual(p.ends, [false]);
  });
});

test("chunked: chunks with extensions, then trailers, whatever the packet boundaries", () => {
  const wire = "HTTP/1.1 200 OK\r\ncontent-type: text/event-stream\r\ntransfer-encoding: chunked\r\n\r\n" +
    "7\r\ndata: 1\r\n" + "A;name=value\r\n\ndata: 22\n\r\n" + "0\r\nx-trailer: t\r\n\r\n";
  everySplit(wire, (p) => {
    assert.equal(p.heads[0]!.headers["transfer-encoding"], "chunked");
    assert.equal(p.body.toString(), "data: 1\ndata: 22\n");
    assert.deepEqual(p.ends, [false]);
  });
});

test("random chunked bodies cut at random places come out byte for byte", () => {
  let seed = 42;
  const rnd = (n: number) => ((seed = (seed * 1103515245 + 12345) & 0x7fffffff) % n);
  for (let round = 0; round < 200; round++) {
    const parts: Buffer[] = [];
    const pieces: Buffer[] = [Buffer.from("HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n", "latin1")];
    for (let i = rnd(6); i >= 0; i--) {
      const b = Buffer.from(Array.from({ length: 1 + rnd(300) }, () => rnd(256)));
      parts.push(b);
      pieces.push(Buffer.from(`${b.length.toString(16)}\r\n`), b, Buffer.from("\r\n"));
    }
    pieces.push(Buffer.from("0\r\n\r\n"));
    const all = Buffer.concat(pieces);
    const cuts = Array.from({ length: rnd(8) }, () => rnd(all.length)).sort((a, b) => a - b);
    const p = parse(all, cuts);
    assert.deepEqual(p.body, Buffer.concat(parts));
    assert.deepEqual(p.ends, [false]);
  }
});

test("a body without length or chunking ends with the connection, and the connection is not kept", () => {
  everySplit("HTTP/1.1 200 OK\r\ncontent-type: text/plain\r\n\r\nuntil the end", (p) => {
    assert.equal(p.heads[0]!.keepAlive, false);
    assert.equal(p.body.toString(), "until the end");
    assert.deepEqual(p.ends, [false]);
  }, true);
});

test("interim 1xx answers are skipped; 204 and a zero length have no body; keep-alive follows the version and Connection", () => {
  const p = parse("HTTP/1.1 100 Continue\r\n\r\nHTTP/1.1 103 Early Hints\r\nlink: </a>\r\n\r\nHTTP/1.1 200 OK\r\ncontent-length: 2\r\n\r\nok");
  assert.deepEqual(p.heads.map((h) => h.status), [200]);
  assert.equal(p.body.toString(), "ok");
  assert.deepEqual(parse("HTTP/1.1 204 No Content\r\n\r\n").ends, [false]);
  assert.deepEqual(parse("HTTP/1.1 200 OK\r\ncontent-length: 0\r\n\r\n").ends, [false]);
  assert.equal(parse("HTTP/1.1 200 OK\r\nconnection: close\r\ncontent-length: 0\r\n\r\n").heads[0]!.keepAlive, false);
  assert.equal(parse("HTTP/1.1 200 OK\r\nConnection: Keep-Alive, Close\r\ncontent-length: 0\r\n\r\n").heads[0]!.keepAlive, false);
  assert.equal(parse("HTTP/1.0 200 OK\r\ncontent-length: 0\r\n\r\n").heads[0]!.keepAlive, false);
  assert.equal(parse("HTTP/1.0 200 OK\r\nconnection: keep-alive\r\ncontent-length: 0\r\n\r\n").heads[0]!.keepAlive, true);
  assert.equal(parse("HTTP/1.1 200 \r\ncontent-length: 0\r\n\r\n").heads[0]!.status, 200, "an empty reason phrase");
  // Bytes after a complete answer are reported, so the connection is not reused.
  assert.deepEqual(parse("HTTP/1.1 200 OK\r\ncontent-length: 2\r\n\r\nokEXTRA").ends, [true]);
});

test("a long trailer line is read and dropped; a repeated single-value header keeps its first value; headers have no prototype", () => {
  const p = parse(`HTTP/1.1 200 OK\r\ntransfer-encoding: chunked\r\n\r\n2\r\nok\r\n0\r\nx-trace: ${"t".repeat(4000)}\r\n\r\n`);
  assert.equal(p.body.toString(), "ok");
  assert.deepEqual(p.ends, [false]);
  const h = parse("HTTP/1.1 200 OK\r\ncontent-type: application/json\r\ncontent-type: text/html\r\nconstructor: x\r\n__proto__: y\r\ncontent-length: 0\r\n\r\n").heads[0]!.headers;
  assert.equal(h["content-type"], "application/json");
  assert.equal(h["constructor"], "x");
  assert.equal(h["__proto__"], "y");
  assert.equal(Object.getPrototypeOf(h), null);
  assert.equal(parse("HTTP/1.1 200 OK\r\ntransfer-encoding: chunked\r\n\r\n2 ;ext=1\r\nok\r\n0\r\n\r\n").body.toString(), "ok", "BWS before a chunk extension");
});

test("repeated equal Content-Length values are one length", () => {
  const p = parse("HTTP/1.1 200 OK\r\ncontent-length: 2\r\nContent-Length: 2\r\n\r\nok");
  assert.equal(p.heads[0]!.headers["content-length"], "2");
  assert.equal(p.body.toString(), "ok");
});

test("responses that could be framed two ways, or are malformed, are refused with what is wrong", () => {
  const refused: [string, RegExp, boolean?][] = [
    ["HTTP/1.1 200 OK\r\ncontent-length: 2\r\ntransfer-encoding: chunked\r\n\r\n", /both Transfer-Encoding and Content-Length/],
    ["HTTP/1.1 200 OK\r\ntransfer-encoding: gzip, chunked\r\n\r\n", /unsupported Transfer-Encoding/],
    ["HTTP/1.1 200 OK\r\ntransfer-encoding: chunked, identity\r\n\r\n", /unsupported Transfer-Encoding/],
    ["HTTP/1.0 200 OK\r\ntransfer-encoding: chunked\r\n\r\n", /HTTP\/1.0/],
    ["HTTP/1.1 200 OK\r\ncontent-length: 2\r\ncontent-length: 3\r\n\r\nok", /bad Content-Length/],
    ["HTTP/1.1 200 OK\r\ncontent-length: -1\r\n\r\n", /bad Content-Length/],
    ["HTTP/1.1 200 OK\r\ncontent-length: 0x10\r\n\r\n", /bad Content-Length/],
    ["HTTP/2 200 OK\r\n\r\n", /bad status line/],
    ["HTTP/1.1 99 Odd\r\n\r\n", /bad status line/],
    ["ICY 200 OK\r\n\r\n", /bad status line/],
    ["HTTP/1.1 101 Switching Protocols\r\nupgrade: h2c\r\n\r\n", /protocol switch/],
    ["HTTP/1.1 200 OK\r\nno colon here\r\n\r\n", /bad header line/],
    ["HTTP/1.1 200 OK\r\nbad name: x\r\n\r\n", /bad header name/],
    ["HTTP/1.1 200 OK\r\n folded: x\r\n\r\n", /bad header name/],
    ["HTTP/1.1 200 OK\r\nx-a: a\u0000b\r\n\r\n", /control character in header x-a/],
    ["HTTP/1.1 200 OK\r\nx-a: a\nb: c\r\n\r\n", /control character in header x-a/],
    ["HTTP/1.1 200 OK\r\ntransfer-encoding: chunked\r\n\r\nzz\r\n", /bad chunk size/],
    ["HTTP/1.1 200 OK\r\ntransfer-encoding: chunked\r\n\r\n2\r\nokX\r\n", /not followed by CRLF/],
    ["HTTP/1.1 200 OK\r\ntransfer-encoding: chunked\r\n\r\n2\n", /CRLF/],
    ["HTTP/1.1 200 OK\r\ntransfer-encoding: chunked\r\n\r\n1000000000000\r\n", /bad chunk size/],
    ["HTTP/1.1 200 OK\r\ntransfer-encoding: chunked\r\n\r\n 2 \r\nok\r\n", /bad chunk size/],
    ["HTTP/1.1 200 OK\r\ntransfer-encoding: chunked\r\n\r\n2\r;x\r\nok\r\n", /bad chunk size/],
    ["HTTP/1.1 200 OK\r\ncontent-length: \xa02\r\n\r\nok", /bad Content-Length/],
    ["HTTP/1.1 200 OK\r\ntransfer-encoding: chunked\xa0\r\n\r\n", /unsupported Transfer-Encoding/],
    ["HTTP/1.1 200 OK\r\ncontent-length: 5\r\n\r\nok", /closed mid-answer/, true],
    ["HTTP/1.1 200 OK\r\ntransfer-encoding: chunked\r\n\r\n2\r\nok\r\n", /closed mid-answer/, true],
    ["HTTP/1.1 200 O", /closed before a response/, true],
  ];
  for (const [wire, why, close] of refused) {
    assert.throws(() => parse(wire, [], close), (e: Error & { code?: string }) => why.test(e.message) && e.code === "bad_response", `${JSON.stringify(wire)} should fail with ${why}`);
  }
});

test("a head beyond the limit is refused before it is all buffered", () => {
  const p = new ResponseParser({ head: () => assert.fail("no head"), body: () => undefined, end: () => undefined });
  p.push(Buffer.from("HTTP/1.1 200 OK\r\n"));
  const line = Buffer.from(`x-filler: ${"a".repeat(1000)}\r\n`);
  assert.throws(() => {
    for (let i = 0; i <= MAX_HEAD_BYTES / line.length + 1; i++) p.push(line);
  }, /head larger than/);
});

import type { IncomingHttpHeaders } from "node:http";

/** A response the gateway will not pass on: malformed, ambiguous in its framing, or too large a head. */
export class ResponseFormatError extends Error {
  readonly code = "bad_response";
  constructor(message: string) {
    super(message);
    this.name = "ResponseFormatError";
  }
}

export interface ResponseHead {
  status: number;
  /** Lower-case names; repeated headers joined with ", " (set-cookie: an array), as node:http does. */
  headers: IncomingHttpHeaders;
  /** The connection may carry another request once this response is over. */
  keepAlive: boolean;
}

export interface ResponseEvents {
  head(h: ResponseHead): void;
  body(chunk: Buffer): void;
  /** The response is complete; `extra`: bytes after it (an engine must not send any). */
  end(extra: boolean): void;
}

/** Status line, headers and their line ends; node:http allows 16 KiB. */
export const MAX_HEAD_BYTES = 64 * 1024;
const MAX_HEADERS = 256;
const MAX_CHUNK_LINE = 1024;

/** An HTTP token (header names). */
export const TOKEN = /^[!#$%&'*+.^_`|~0-9A-Za-z-]+$/;
/** Header lines, each `token ":" value CRLF`; values: visible characters, spaces, tabs and obs-text, no other control characters. */
const HEADER_BLOCK = /^(?:[!#$%&'*+.^_`|~0-9A-Za-z-]+:[\t\x20-\x7e\x80-\xff]*\r\n)*$/;
const STATUS_LINE = /^HTTP\/1\.([01]) ([1-9]\d\d)(?: [\t\x20-\x7e\x80-\xff]*)?$/;
const HEX = /^[0-9a-fA-F]{1,12}$/;

const enum State {
  Head,
  Length,
  ChunkSize,
  ChunkData,
  ChunkEnd,
  Trailers,
  UntilClose,
  Done,
}

/**
 * An HTTP/1.1 response parser for the engine connections, strict where framing is at
 * stake: a body is delimited by Content-Length (repeated only with one value), by chunked
 * transfer coding, or by the connection's close, never ambiguously (Content-Length with
 * Transfer-Encoding is refused, as is any coding but chunked last). Interim 1xx responses
 * are skipped. Body bytes are passed on as they arrive, without copying.
 */
export class ResponseParser {
  private state = State.Head;
  private head: Buffer | null = null;
  private remaining = 0;
  private line: Buffer | null = null;
  private trailerBytes = 0;

  constructor(private readonly on: ResponseEvents) {}

  /** Feeds bytes from the connection; throws {@link ResponseFormatError}. */
  push(data: Buffer): void {
    let at = 0;
    while (at < data.length) {
      switch (this.state) {
        case State.Head: {
          at = this.readHead(data, at);
          break;
        }
        case State.Length: {
          at = this.passBody(data, at);
          if (this.remaining === 0) return this.complete(at < data.length);
          break;
        }
        case State.ChunkSize: {
          const end = this.readLine(data, at);
          if (end < 0) return;
          at = end;
          const line = this.takeLine();
          const semi = line.indexOf(";");
          // chunk-size [BWS ";" chunk-ext]: no other space, no stray CR.
          const size = semi < 0 ? line : trimOws(line.slice(0, semi), false);
          if (!HEX.test(size) || line.includes("\r")) throw new ResponseFormatError(`bad chunk size line ${JSON.stringify(line.slice(0, 40))}`);
          this.remaining = parseInt(size, 16);
          this.state = this.remaining === 0 ? State.Trailers : State.ChunkData;
          break;
        }
        case State.ChunkData: {
          at = this.passBody(data, at);
          if (this.remaining === 0) {
            this.state = State.ChunkEnd;
            this.remaining = 2;
          }
          break;
        }
        case State.ChunkEnd: {
          // Exactly CRLF after a chunk's data.
          const expect = this.remaining === 2 ? 0x0d : 0x0a;
          if (data[at] !== expect) throw new ResponseFormatError("chunk data not followed by CRLF");
          at++;
          if (--this.remaining === 0) this.state = State.ChunkSize;
          break;
        }
        case State.Trailers: {
          const end = this.readLine(data, at, MAX_HEAD_BYTES);
          if (end < 0) return;
          this.trailerBytes += end - at;
          at = end;
          if (this.trailerBytes > MAX_HEAD_BYTES) throw new ResponseFormatError("trailers too large");
          // Trailers are read and dropped: nothing the gateway passes on comes from them.
          if (this.takeLine() === "") return this.complete(at < data.length);
          break;
        }
        case State.UntilClose: {
          this.on.body(at === 0 ? data : data.subarray(at));
          return;
        }
        case State.Done:
          throw new ResponseFormatError("bytes after the end of the response");
      }
    }
  }

  /** The connection ended: completes a body delimited by it, else throws (the answer is cut). */
  close(): void {
    if (this.state === State.UntilClose) return this.complete(false);
    if (this.state !== State.Done) throw new ResponseFormatError(this.state === State.Head ? "connection closed before a response" : "connection closed mid-answer");
  }

  /** Passes on up to `remaining` body bytes from `at` (no copy); returns where it stopped. */
  private passBody(data: Buffer, at: number): number {
    const n = Math.min(this.remaining, data.length - at);
    this.remaining -= n;
    this.on.body(at === 0 && n === data.length ? data : data.subarray(at, at + n));
    return at + n;
  }

  private complete(extra: boolean): void {
    this.state = State.Done;
    this.on.end(extra);
  }

  /** Accumulates head bytes; returns where the body starts once the head is whole. */
  private readHead(data: Buffer, at: number): number {
    const prev = this.head === null ? 0 : this.head.length;
    const buf = this.head === null ? (at === 0 ? data : data.subarray(at)) : Buffer.concat([this.head, data.subarray(at)]);
    const end = buf.indexOf("\r\n\r\n", Math.max(0, prev - 3), "latin1");
    if (end < 0) {
      if (buf.length > MAX_HEAD_BYTES) throw new ResponseFormatError(`response head larger than ${MAX_HEAD_BYTES} bytes`);
      this.head = this.head === null ? Buffer.from(buf) : buf;
      return data.length;
    }
    if (end > MAX_HEAD_BYTES) throw new ResponseFormatError(`response head larger than ${MAX_HEAD_BYTES} bytes`);
    this.head = null;
    const consumed = end + 4 - prev;
    const head = parseHead(buf.toString("latin1", 0, end));
    if (head.status < 200) {
      if (head.status === 101) throw new ResponseFormatError("unexpected protocol switch");
      return at + consumed; // interim response: the real one follows
    }
    const f = framing(head);
    this.on.head({ status: head.status, headers: head.headers, keepAlive: head.keepAlive && f.kind !== "close" });
    if (f.kind === "none" || (f.kind === "length" && f.length === 0)) {
      this.complete(at + consumed < data.length);
      return data.length;
    }
    if (f.kind === "length") {
      this.state = State.Length;
      this.remaining = f.length;
    } else this.state = f.kind === "chunked" ? State.ChunkSize : State.UntilClose;
    return at + consumed;
  }

  /** Reads up to and including CRLF into `line`; returns the index after it, or -1 if not yet whole. */
  private readLine(data: Buffer, at: number, limit = MAX_CHUNK_LINE): number {
    const nl = data.indexOf(0x0a, at);
    const part = nl < 0 ? data.subarray(at) : data.subarray(at, nl + 1);
    this.line = this.line === null ? Buffer.from(part) : Buffer.concat([this.line, part]);
    if (this.line.length > limit) throw new ResponseFormatError(limit === MAX_CHUNK_LINE ? "chunk line too long" : "trailer line too long");
    return nl < 0 ? -1 : nl + 1;
  }

  private takeLine(): string {
    const l = this.line!;
    this.line = null;
    if (l.length < 2 || l[l.length - 2] !== 0x0d) throw new ResponseFormatError("line not ended by CRLF");
    return l.toString("latin1", 0, l.length - 2);
  }
}

interface ParsedHead {
  status: number;
  http10: boolean;
  headers: IncomingHttpHeaders;
  keepAlive: boolean;
}

function parseHead(text: string): ParsedHead {
  const eol = text.indexOf("\r\n");
  const statusLine = eol < 0 ? text : text.slice(0, eol);
  const m = STATUS_LINE.exec(statusLine);
  if (m === null) throw new ResponseFormatError(`bad status line ${JSON.stringify(statusLine.slice(0, 60))}`);
  const block = eol < 0 ? "" : `${text.slice(eol + 2)}\r\n`;
  // One pass checks every header line's name and value; a failure is then located for the message.
  if (!HEADER_BLOCK.test(block)) throw badHeader(block);
  // No prototype, as node:http's: a header named like an Object property is just a header.
  const headers = Object.create(null) as IncomingHttpHeaders;
  let count = 0;
  for (let at = 0; at < block.length; count++) {
    if (count >= MAX_HEADERS) throw new ResponseFormatError(`more than ${MAX_HEADERS} headers`);
    const colon = block.indexOf(":", at);
    const nl = block.indexOf("\r\n", colon);
    const key = block.slice(at, colon).toLowerCase();
    const value = trimOws(block.slice(colon + 1, nl), true);
    at = nl + 2;
    const had = headers[key];
    if (key === "set-cookie") {
      if (had === undefined) headers[key] = [value];
      else (had as string[]).push(value);
    } else if (had === undefined) headers[key] = value;
    else if (!SINGLE.has(key)) headers[key] = `${had as string}, ${value}`;
  }
  const http10 = m[1] === "0";
  const conn = headers.connection === undefined ? "" : (headers.connection as string).toLowerCase();
  const keepAlive = http10 ? /(?:^|,)\s*keep-alive\s*(?:,|$)/.test(conn) : !/(?:^|,)\s*close\s*(?:,|$)/.test(conn);
  return { status: Number(m[2]), http10, headers, keepAlive };
}

function badHeader(block: string): ResponseFormatError {
  for (const l of block.split("\r\n")) {
    if (l === "" || HEADER_BLOCK.test(`${l}\r\n`)) continue;
    const colon = l.indexOf(":");
    if (colon <= 0) return new ResponseFormatError(`bad header line ${JSON.stringify(l.slice(0, 60))}`);
    if (!TOKEN.test(l.slice(0, colon))) return new ResponseFormatError(`bad header name ${JSON.stringify(l.slice(0, Math.min(colon, 60)))}`);
    return new ResponseFormatError(`control character in header ${l.slice(0, Math.min(colon, 60))}`);
  }
  return new ResponseFormatError("bad header line");
}

/**
 * Headers of which node:http keeps only the first (so a client sees one value). Content-Length
 * is not among them here: its repeats are joined so that framing() can refuse differing ones.
 */
const SINGLE = new Set([
  "age", "authorization", "content-type", "etag", "expires", "from", "host", "if-modified-since", "if-unmodified-since",
  "last-modified", "location", "max-forwards", "proxy-authorization", "referer", "retry-after", "server", "user-agent",
]);

/** Strips spaces and tabs (HTTP's optional whitespace; not String#trim's wider set), at the start too when `leading`. */
function trimOws(s: string, leading: boolean): string {
  let a = 0;
  let b = s.length;
  if (leading) while (a < b && (s.charCodeAt(a) === 0x20 || s.charCodeAt(a) === 0x09)) a++;
  while (b > a && (s.charCodeAt(b - 1) === 0x20 || s.charCodeAt(b - 1) === 0x09)) b--;
  return a === 0 && b === s.length ? s : s.slice(a, b);
}

type Framing = { kind: "none" } | { kind: "length"; length: number } | { kind: "chunked" } | { kind: "close" };

/** How the body is delimited (RFC 9112 §6.3), refusing what could be read two ways. */
function framing(h: ParsedHead): Framing {
  if (h.status === 204 || h.status === 304) return { kind: "none" };
  const te = h.headers["transfer-encoding"];
  const cl = h.headers["content-length"];
  if (te !== undefined) {
    if (cl !== undefined) throw new ResponseFormatError("both Transfer-Encoding and Content-Length");
    if (h.http10) throw new ResponseFormatError("Transfer-Encoding in an HTTP/1.0 response");
    const codings = (te as string).toLowerCase().split(",").map((s) => trimOws(s, true));
    if (codings[codings.length - 1] !== "chunked" || codings.length > 1) throw new ResponseFormatError(`unsupported Transfer-Encoding ${JSON.stringify(te)}`);
    return { kind: "chunked" };
  }
  if (cl !== undefined) {
    const values = (cl as string).split(",").map((s) => trimOws(s, true));
    if (!values.every((v) => v === values[0]) || !/^\d{1,15}$/.test(values[0]!)) throw new ResponseFormatError(`bad Content-Length ${JSON.stringify(cl)}`);
    h.headers["content-length"] = values[0]!;
    return { kind: "length", length: Number(values[0]) };
  }
  return { kind: "close" };
}

/**
 * The test's instrument inside one network namespace (`ip netns exec NS node netprobe.js NAME`):
 * it listens where the test asks (plain TCP services and a DNS server, so a denied flow has a
 * real listener behind it) and runs probes from this namespace's own network stack. Requests
 * and answers are JSON lines on stdin/stdout, so secrets (tokens) never appear on a command
 * line. No dependencies beyond Node: it is the same whatever the project's state.
 */
import { createSocket, type Socket as UdpSocket } from "node:dgram";
import { request as httpRequest, type IncomingHttpHeaders } from "node:http";
import { request as httpsRequest } from "node:https";
import { connect, createServer, type Server, type Socket } from "node:net";
import { createInterface } from "node:readline";
import type { Probe, ProbeResult, ProbeRequest, ProbeResponse } from "./probe-protocol.js";

const NAME = process.argv[2] ?? "netprobe";
const MAX_BODY = 256 * 1024;
const servers: (Server | UdpSocket)[] = [];

function outcomeOf(e: NodeJS.ErrnoException): ProbeResult["outcome"] {
  if (e.code === "ECONNREFUSED") return "refused";
  if (e.code === "EHOSTUNREACH" || e.code === "ENETUNREACH") return "unreachable";
  if (e.name === "AbortError" || e.name === "TimeoutError" || e.code === "ETIMEDOUT" || e.code === "ABORT_ERR") return "timeout";
  return "error";
}

function failed(e: unknown): ProbeResult {
  const err = e as NodeJS.ErrnoException;
  const outcome = outcomeOf(err);
  return { outcome, detail: outcome === "error" ? `${err.code ?? err.name}: ${err.message}`.slice(0, 300) : (err.code ?? outcome) };
}

function tcpProbe(host: string, port: number, timeoutMs: number): Promise<ProbeResult> {
  return new Promise((resolve) => {
    const s = connect({ host, port });
    const done = (r: ProbeResult) => {
      clearTimeout(timer);
      s.destroy();
      resolve(r);
    };
    const timer = setTimeout(() => done({ outcome: "timeout", detail: `no answer within ${timeoutMs} ms` }), timeoutMs);
    s.once("connect", () => done({ outcome: "open", detail: "connected" }));
    s.once("error", (e) => done(failed(e)));
  });
}

/** A DNS query for an A record: 12-byte header, one question. */
function dnsQuery(name: string): { id: number; packet: Buffer } {
  const id = Math.floor(Math.random() * 0x10000);
  const labels = name.split(".").filter(Boolean).map((l) => Buffer.concat([Buffer.from([l.length]), Buffer.from(l, "ascii")]));
  const header = Buffer.alloc(12);
  header.writeUInt16BE(id, 0);
  header.writeUInt16BE(0x0100, 2); // recursion desired
  header.writeUInt16BE(1, 4);
  return { id, packet: Buffer.concat([header, ...labels, Buffer.from([0, 0, 1, 0, 1])]) };
}

/** The first A record of an answer to query `id`, or why there is none. */
function dnsAnswer(msg: Buffer, id: number): string {
  if (msg.length < 12 || msg.readUInt16BE(0) !== id) return "a reply to another query";
  const an = msg.readUInt16BE(6);
  let at = 12;
  while (at < msg.length && msg[at] !== 0) at += msg[at]! + 1;
  at += 5;
  for (let i = 0; i < an && at + 12 <= msg.length; i++) {
    at += (msg[at]! & 0xc0) === 0xc0 ? 2 : 0;
    const type = msg.readUInt16BE(at);
    const len = msg.readUInt16BE(at + 8);
    if (type === 1 && len === 4) return [...msg.subarray(at + 10, at + 14)].join(".");
    at += 10 + len;
  }
  return "no A record";
}

function dnsUdpProbe(host: string, port: number, name: string, timeoutMs: number): Promise<ProbeResult> {
  return new Promise((resolve) => {
    const s = createSocket("udp4");
    const q = dnsQuery(name);
    const done = (r: ProbeResult) => {
      clearTimeout(timer);
      s.close();
      resolve(r);
    };
    const timer = setTimeout(() => done({ outcome: "timeout", detail: `no answer within ${timeoutMs} ms` }), timeoutMs);
    // Connected, so an ICMP port unreachable comes back as ECONNREFUSED.
    s.once("error", (e) => done(failed(e)));
    s.on("message", (m) => done({ outcome: "open", detail: `answered ${dnsAnswer(m, q.id)}` }));
    s.connect(port, host, () => s.send(q.packet));
  });
}

function dnsTcpProbe(host: string, port: number, name: string, timeoutMs: number): Promise<ProbeResult> {
  return new Promise((resolve) => {
    const s = connect({ host, port });
    const q = dnsQuery(name);
    let buf = Buffer.alloc(0);
    const done = (r: ProbeResult) => {
      clearTimeout(timer);
      s.destroy();
      resolve(r);
    };
    const timer = setTimeout(() => done({ outcome: "timeout", detail: `no answer within ${timeoutMs} ms` }), timeoutMs);
    s.once("connect", () => s.write(Buffer.concat([u16(q.packet.length), q.packet])));
    s.on("data", (d: Buffer) => {
      buf = Buffer.concat([buf, d]);
      if (buf.length >= 2 && buf.length >= 2 + buf.readUInt16BE(0)) done({ outcome: "open", detail: `answered ${dnsAnswer(buf.subarray(2), q.id)}` });
    });
    s.once("error", (e) => done(failed(e)));
    s.once("end", () => done({ outcome: "error", detail: "closed without an answer" }));
  });
}

function httpProbe(p: Extract<Probe, { kind: "http" }>): Promise<ProbeResult> {
  return new Promise((resolve) => {
    const url = new URL(p.url);
    const tls = url.protocol === "https:";
    const body = p.body === undefined ? undefined : Buffer.from(p.body);
    const opts = {
      method: p.method ?? "GET",
      headers: { ...(p.headers ?? {}), ...(body ? { "content-length": String(body.length) } : {}) },
      signal: AbortSignal.timeout(p.timeoutMs),
      agent: false as const,
      ...(tls ? { ca: p.ca, servername: p.servername } : {}),
    };
    const req = (tls ? httpsRequest : httpRequest)(url, opts, (res) => {
      const chunks: Buffer[] = [];
      let size = 0;
      res.on("data", (c: Buffer) => {
        size += c.length;
        if (size <= MAX_BODY) chunks.push(c);
      });
      res.on("end", () =>
        resolve({ outcome: "open", detail: `HTTP ${res.statusCode}`, status: res.statusCode ?? 0, headers: flatHeaders(res.headers), body: Buffer.concat(chunks).toString("utf8") }),
      );
      res.on("error", (e) => resolve(failed(e)));
    });
    req.on("error", (e) => resolve(failed(e)));
    req.end(body);
  });
}

function flatHeaders(h: IncomingHttpHeaders): Record<string, string> {
  return Object.fromEntries(Object.entries(h).map(([k, v]) => [k, Array.isArray(v) ? v.join(", ") : String(v ?? "")]));
}

function runProbe(p: Probe): Promise<ProbeResult> {
  switch (p.kind) {
    case "tcp":
      return tcpProbe(p.host, p.port, p.timeoutMs);
    case "dns-udp":
      return dnsUdpProbe(p.host, p.port ?? 53, p.name, p.timeoutMs);
    case "dns-tcp":
      return dnsTcpProbe(p.host, p.port ?? 53, p.name, p.timeoutMs);
    case "http":
      return httpProbe(p);
  }
}

function u16(n: number): Buffer {
  const b = Buffer.alloc(2);
  b.writeUInt16BE(n);
  return b;
}

/** The answer to any A query: `answer`, TTL 60. */
function dnsReply(query: Buffer, answer: string): Buffer | null {
  if (query.length < 17) return null;
  let at = 12;
  while (at < query.length && query[at] !== 0) at += query[at]! + 1;
  const qEnd = at + 5;
  if (qEnd > query.length) return null;
  const header = Buffer.from(query.subarray(0, 12));
  header.writeUInt16BE(0x8180, 2);
  header.writeUInt16BE(1, 4);
  header.writeUInt16BE(1, 6);
  header.writeUInt32BE(0, 8);
  const rr = Buffer.concat([Buffer.from([0xc0, 0x0c, 0, 1, 0, 1, 0, 0, 0, 60, 0, 4]), Buffer.from(answer.split(".").map(Number))]);
  return Buffer.concat([header, query.subarray(12, qEnd), rr]);
}

function listenTcp(port: number, onConnection: (s: Socket) => void): Promise<void> {
  return new Promise((resolve, reject) => {
    const srv = createServer(onConnection);
    srv.once("error", reject);
    srv.listen(port, "0.0.0.0", () => {
      servers.push(srv);
      resolve();
    });
  });
}

async function serve(r: Extract<ProbeRequest, { op: "serve" }>): Promise<void> {
  for (const port of r.tcp ?? []) {
    await listenTcp(port, (s) => {
      s.on("error", () => {});
      s.end(`${NAME} ok\n`);
    });
  }
  if (r.dnsAnswer) {
    const answer = r.dnsAnswer;
    const udp = createSocket("udp4");
    await new Promise<void>((resolve, reject) => {
      udp.once("error", reject);
      udp.bind(53, "0.0.0.0", () => resolve());
    });
    udp.on("error", () => {});
    udp.on("message", (m, from) => {
      const reply = dnsReply(m, answer);
      if (reply) udp.send(reply, from.port, from.address);
    });
    servers.push(udp);
    await listenTcp(53, (s) => {
      let buf = Buffer.alloc(0);
      s.on("error", () => {});
      s.on("data", (d: Buffer) => {
        buf = Buffer.concat([buf, d]);
        if (buf.length >= 2 && buf.length >= 2 + buf.readUInt16BE(0)) {
          const reply = dnsReply(buf.subarray(2, 2 + buf.readUInt16BE(0)), answer);
          if (reply) s.end(Buffer.concat([u16(reply.length), reply]));
          else s.destroy();
        }
      });
    });
  }
}

async function handle(line: string): Promise<ProbeResponse> {
  let r: ProbeRequest;
  try {
    r = JSON.parse(line) as ProbeRequest;
  } catch {
    return { id: -1, error: "not JSON" };
  }
  try {
    if (r.op === "serve") {
      await serve(r);
      return { id: r.id, results: [] };
    }
    return { id: r.id, results: await Promise.all(r.probes.map(runProbe)) };
  } catch (e) {
    return { id: r.id, error: (e as Error).message };
  }
}

const rl = createInterface({ input: process.stdin });
rl.on("line", (line) => void handle(line).then((a) => process.stdout.write(JSON.stringify(a) + "\n")));
// The test holds stdin: when it goes (the test ended or died), so does this process.
rl.on("close", () => {
  for (const s of servers) s.close();
  process.exit(0);
});
process.stdout.write(JSON.stringify({ id: 0, results: [] }) + "\n");

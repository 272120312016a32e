import { readFileSync } from "node:fs";
import { hostname } from "node:os";
import { connect, type ConnectionOptions, type TLSSocket } from "node:tls";
import type { SyslogSinkConfig } from "@enclave/contracts";
import { readSecret } from "@enclave/runtime/secrets";
import type { SpooledEntry } from "../spool/spool-reader.js";
import type { AuditSink } from "./sink.js";
import { ackVerdict, type ConnectionEvent } from "./syslog-ack.js";
import { octetCounted, syslogHostname, syslogMessage, type SyslogHeader } from "./syslog-message.js";

/**
 * Connections kept ready for the next deliveries. Each must stay open for the admission window
 * before we may close it, so a delivery that takes a connection prepared two deliveries
 * earlier rarely waits: three deliveries fit in one window.
 */
const SPARES = 2;
/**
 * A prepared connection is dropped after this long unused: middleboxes forget idle
 * connections without telling either end, and a delivery into one would only time out.
 */
const SPARE_MAX_IDLE_MS = 30_000;

interface Connection {
  readonly sock: TLSSocket;
  readonly events: ConnectionEvent[];
  /** performance.now() when the handshake completed. */
  secureAt: number;
  error: Error | null;
  closed: boolean;
  /** Drops the connection while it waits unused. */
  idle?: NodeJS.Timeout;
}

/**
 * Syslog over mutual TLS (RFC 5425). Each delivery is one connection: send the batch
 * octet-counted, close our side, and count the batch as acknowledged only if the receiver
 * then closes its side (see `ackVerdict`). Our close waits until `admissionWindowMs` after the
 * handshake, so that a receiver refusing our certificate (which it decides only after the
 * handshake) has closed by then; the batch is written meanwhile. The next deliveries'
 * connections are opened while this one is in use, so their window has usually passed when
 * they are needed and a busy shipper does not wait for it.
 */
export function syslogSink(cfg: SyslogSinkConfig): AuditSink {
  const tls: ConnectionOptions = {
    host: cfg.host, port: cfg.port, servername: cfg.serverName ?? cfg.host, minVersion: "TLSv1.2",
    ca: readPem(cfg.tls.ca, "CA"), cert: readPem(cfg.tls.cert, "certificate"), key: readSecret(cfg.tls.key),
  };
  const header: SyslogHeader = { hostname: cfg.hostname ?? syslogHostname(hostname()), appName: cfg.appName, procId: String(process.pid) };
  /** Connections for the next deliveries, oldest first, each settling to null if it could not be opened. */
  const spares: Promise<Connection | null>[] = [];
  let closed = false;

  /** A connection through its handshake, recording what it shows from the start. */
  const open = (signal: AbortSignal, spare = false) =>
    new Promise<Connection>((resolve, reject) => {
      signal.throwIfAborted();
      const sock = connect(tls);
      if (spare) sock.unref(); // a connection nobody waits for never keeps a process alive
      const c: Connection = { sock, events: [], secureAt: 0, error: null, closed: false };
      const onAbort = () => sock.destroy(abortError(signal));
      signal.addEventListener("abort", onAbort, { once: true });
      sock.once("secureConnect", () => {
        signal.removeEventListener("abort", onAbort);
        c.secureAt = performance.now();
        c.events.push("secure");
        resolve(c);
      });
      sock.once("end", () => c.events.push("peer-end"));
      sock.once("finish", () => c.events.push("finish"));
      sock.on("error", (e) => (c.error ??= e));
      sock.on("data", () => undefined); // a receiver says nothing; drain whatever it does say
      sock.once("close", () => {
        c.closed = true;
        signal.removeEventListener("abort", onAbort);
        reject(c.error ?? new Error("the receiver closed the connection during the TLS handshake"));
      });
    });

  const usable = (c: Connection) =>
    !c.closed && c.error === null && !c.events.includes("peer-end") && performance.now() - c.secureAt < SPARE_MAX_IDLE_MS;

  /**
   * The oldest prepared connection still usable, waiting for its handshake if it is still in
   * it (it started before any a delivery would open now); the others met on the way are let go.
   */
  const takeSpare = async (signal: AbortSignal): Promise<Connection | null> => {
    for (let p = spares.shift(); p; p = spares.shift()) {
      const c = await untilAborted(p, signal);
      if (c === null) continue;
      clearTimeout(c.idle);
      if (usable(c)) return c;
      c.sock.destroy();
    }
    return null;
  };

  /** Opens connections for the next deliveries in the background; a failure only means a delivery opens its own. */
  const prepareSpares = () => {
    while (!closed && spares.length < SPARES) {
      const p: Promise<Connection | null> = open(AbortSignal.timeout(cfg.timeoutMs), true).then(
        (c) => {
          if (closed) {
            c.sock.end();
            return null;
          }
          c.idle = setTimeout(() => {
            const i = spares.indexOf(p);
            if (i >= 0) spares.splice(i, 1);
            c.sock.end();
          }, SPARE_MAX_IDLE_MS).unref();
          return c;
        },
        () => null,
      );
      spares.push(p);
    }
  };

  /** Writes the batch at once, closes our side once the admission window has passed, and judges the close. */
  const send = (c: Connection, payload: Buffer, signal: AbortSignal) =>
    new Promise<void>((resolve, reject) => {
      const { sock } = c;
      sock.ref();
      const onAbort = () => sock.destroy(abortError(signal));
      const hold = setTimeout(() => {
        // A receiver that closed (or failed) during the window refused us: no close of ours may follow it.
        if (c.events.includes("peer-end") || c.error) return;
        c.events.push("closing");
        sock.end();
      }, Math.max(0, c.secureAt + cfg.admissionWindowMs - performance.now()));
      const judge = () => {
        clearTimeout(hold);
        signal.removeEventListener("abort", onAbort);
        const v = ackVerdict(c.events, c.error);
        if (v.ok) resolve();
        else reject(new Error(v.reason));
      };
      if (c.closed) return judge();
      signal.addEventListener("abort", onAbort, { once: true });
      sock.once("close", judge);
      sock.write(payload);
    });

  return {
    name: `syslog+tls://${cfg.host}:${cfg.port}`,
    async deliver(entries, signal) {
      signal.throwIfAborted();
      const payload = Buffer.from(entries.map((e: SpooledEntry) => octetCounted(syslogMessage(e, header))).join(""), "utf8");
      const c = await takeSpare(signal);
      prepareSpares();
      await send(c ?? (await open(signal)), payload, signal);
    },
    close() {
      closed = true;
      for (const p of spares.splice(0)) {
        void p.then((c) => {
          if (c === null) return;
          clearTimeout(c.idle);
          c.sock.end();
        });
      }
    },
  };
}

/** `p`, or a rejection as soon as `signal` aborts. */
function untilAborted<T>(p: Promise<T>, signal: AbortSignal): Promise<T> {
  if (signal.aborted) return Promise.reject(abortError(signal));
  return new Promise<T>((resolve, reject) => {
    const onAbort = () => reject(abortError(signal));
    signal.addEventListener("abort", onAbort, { once: true });
    p.then(resolve, reject).finally(() => signal.removeEventListener("abort", onAbort));
  });
}

function abortError(signal: AbortSignal): Error {
  const why = (signal.reason as Error | undefined)?.name === "TimeoutError" ? "no acknowledgement within the delivery timeout" : "the delivery was aborted";
  return new Error(why, { cause: signal.reason });
}

function readPem(file: string, what: string): Buffer {
  try {
    return readFileSync(file);
  } catch (e) {
    throw new Error(`audit sink TLS ${what} ${file}: cannot read (${(e as NodeJS.ErrnoException).code ?? "error"})`);
  }
}

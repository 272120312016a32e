import { readFileSync } from "node:fs";
import { hostname } from "node:os";
import { connect } from "node:tls";
import type { SyslogSinkConfig } from "@enclave/contracts";
import { readSecret } from "@enclave/runtime/secrets";
import type { SpooledEntry } from "../spool/spool-reader.js";
import type { AuditSink } from "./sink.js";
import { octetCounted, syslogHostname, syslogMessage, type SyslogHeader } from "./syslog-message.js";

/**
 * Syslog over mutual TLS (RFC 5425). Each delivery is one connection: connect, verify the
 * receiver's certificate, send the batch octet-counted, close our side, and wait for the
 * receiver to close its side. A receiver closes cleanly only after reading everything up
 * to our close (one that stops early resets the connection), which is the acknowledgement
 * plain syslog does not otherwise have.
 */
export function syslogSink(cfg: SyslogSinkConfig): AuditSink {
  const tls = { ca: readPem(cfg.tls.ca, "CA"), cert: readPem(cfg.tls.cert, "certificate"), key: readSecret(cfg.tls.key) };
  const header: SyslogHeader = { hostname: cfg.hostname ?? syslogHostname(hostname()), appName: cfg.appName, procId: String(process.pid) };
  const servername = cfg.serverName ?? cfg.host;
  return {
    name: `syslog+tls://${cfg.host}:${cfg.port}`,
    deliver(entries, signal) {
      const payload = Buffer.from(entries.map((e: SpooledEntry) => octetCounted(syslogMessage(e, header))).join(""), "utf8");
      return new Promise<void>((resolve, reject) => {
        signal.throwIfAborted();
        const sock = connect({ host: cfg.host, port: cfg.port, servername, ...tls, minVersion: "TLSv1.2" });
        let sent = false;
        let peerClosed = false;
        let failure: Error | null = null;
        const onAbort = () => sock.destroy(new Error(`no acknowledgement within the delivery timeout`));
        signal.addEventListener("abort", onAbort, { once: true });
        sock.once("secureConnect", () => sock.end(payload));
        sock.once("finish", () => (sent = true));
        sock.once("end", () => (peerClosed = true));
        sock.on("error", (e) => (failure ??= e));
        sock.on("data", () => undefined); // a receiver says nothing; drain whatever it does say
        sock.once("close", () => {
          signal.removeEventListener("abort", onAbort);
          if (failure) reject(failure);
          else if (!sent || !peerClosed) reject(new Error("the receiver closed the connection before acknowledging the batch"));
          else resolve();
        });
      });
    },
  };
}

function readPem(file: string, what: string): Buffer {
  try {
    return readFileSync(file);
  } catch (e) {
    throw new Error(`audit sink TLS ${what} ${file}: cannot read (${(e as NodeJS.ErrnoException).code ?? "error"})`);
  }
}

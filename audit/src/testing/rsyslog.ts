import { execFile, spawn, type ChildProcess } from "node:child_process";
import { mkdir, readFile, writeFile } from "node:fs/promises";
import { connect } from "node:net";
import { join } from "node:path";
import { promisify } from "node:util";
import { freePort } from "@enclave/runtime/net";
import { stopChild } from "@enclave/runtime/redis-server";
import { waitFor } from "@enclave/runtime/time";
import { PERMITTED_PEER, type TestPki } from "./pki.js";

export interface Rsyslog {
  port: number;
  /** What arrived, byte for byte (`%rawmsg%`), one message per line. */
  output: string;
  /** Lines written so far. */
  lines(): Promise<string[]>;
  /** Its own stdout/stderr (errors, refused peers). */
  log(): string;
  stop(): Promise<void>;
  /** Starts it again on the same port and output file. */
  start(): Promise<void>;
}

/**
 * A private rsyslogd as an RFC 5425 receiver: GnuTLS driver (never OpenSSL: its x509/name
 * check let a non-permitted peer through), mutual TLS with `x509/name` and PermittedPeer,
 * octet-counted framing, every message stored as received. Foreground, killed by its pid.
 */
export async function startRsyslog(dir: string, pki: TestPki, opts: { permittedPeers?: string[]; maxMessageSize?: string } = {}): Promise<Rsyslog> {
  await mkdir(join(dir, "work"), { recursive: true });
  const output = join(dir, "audit.log");
  const conf = join(dir, "rsyslog.conf");
  const pidFile = join(dir, "rsyslogd.pid");
  let port = 0;
  let child: ChildProcess | null = null;
  let log = "";

  const writeConf = async () => {
    const peers = (opts.permittedPeers ?? [PERMITTED_PEER]).map((p) => JSON.stringify(p)).join(",");
    await writeFile(conf, `global(
  workDirectory="${join(dir, "work")}"
  maxMessageSize="${opts.maxMessageSize ?? "256k"}"
  net.enableDNS="off"
  DefaultNetstreamDriver="gtls"
  DefaultNetstreamDriverCAFile="${pki.ca}"
  DefaultNetstreamDriverCertFile="${pki.server.cert}"
  DefaultNetstreamDriverKeyFile="${pki.server.key}"
)
module(load="imtcp")
input(type="imtcp" address="127.0.0.1" port="${port}" ruleset="audit"
  StreamDriver.Name="gtls" StreamDriver.Mode="1" StreamDriver.AuthMode="x509/name" PermittedPeer=[${peers}])
template(name="RawMsg" type="string" string="%rawmsg%\\n")
ruleset(name="audit") {
  action(type="omfile" file="${output}" template="RawMsg")
}
`);
  };

  /** One rsyslogd on `port`; false if it did not come up listening (the port may have been taken). */
  const launch = async (): Promise<boolean> => {
    await writeConf();
    await promisify(execFile)("rsyslogd", ["-N1", "-f", conf], { timeout: 10_000 });
    const c = spawn("rsyslogd", ["-n", "-f", conf, "-i", pidFile], { stdio: ["ignore", "pipe", "pipe"] });
    const keep = (b: Buffer) => (log = (log + b.toString()).slice(-20_000));
    c.stdout!.on("data", keep);
    c.stderr!.on("data", keep);
    child = c;
    try {
      await waitFor(() => c.exitCode === null && listening(port), { timeoutMs: 5000, intervalMs: 20, what: `rsyslogd listening on ${port}` });
      return true;
    } catch {
      await stopChild(c, 2000);
      child = null;
      return false;
    }
  };

  const start = async () => {
    for (let attempt = 0; attempt < 5; attempt++) {
      port = await freePort();
      if (await launch()) return;
    }
    throw new Error(`rsyslogd did not start:\n${log}`);
  };

  await start();
  return {
    get port() {
      return port;
    },
    output,
    async lines() {
      const text = await readFile(output, "utf8").catch(() => "");
      return text.split("\n").filter((l) => l !== "");
    },
    log: () => log,
    async stop() {
      if (child) await stopChild(child, 5000);
      child = null;
    },
    // The same port: a restarted receiver is the same sink to the shipper.
    async start() {
      for (let attempt = 0; attempt < 50; attempt++) if (await launch()) return;
      throw new Error(`rsyslogd could not listen on ${port} again:\n${log}`);
    },
  };
}

function listening(port: number): Promise<boolean> {
  return new Promise((resolve) => {
    const s = connect({ host: "127.0.0.1", port });
    const done = (ok: boolean) => {
      s.destroy();
      resolve(ok);
    };
    s.setTimeout(1000, () => done(false));
    s.once("connect", () => done(true));
    s.once("error", () => done(false));
  });
}

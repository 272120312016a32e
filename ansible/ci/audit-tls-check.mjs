// Checks the log_host role's audit receiver for real (ci/chroot-e2e.sh verify starts the chroot's
// rsyslogd with the rendered listener, moved to 127.0.0.1:PORT): RFC 5424 messages over mutual TLS
// with octet-counted framing (RFC 5425) from a permitted sender land byte for byte in the region's
// file; a sender without a certificate and one whose certificate is signed by the same CA but not
// permitted are refused, and nothing of theirs is written.
//   node audit-tls-check.mjs PORT PKI_DIR SERVER_NAME PERMITTED_NAME INTRUDER_NAME AUDIT_FILE
// Prints one JSON line per check ({check, ok, detail}); exit 1 if any failed.
import { readFileSync, existsSync } from "node:fs";
import { randomUUID } from "node:crypto";
import tls from "node:tls";

const [port, pki, serverName, permitted, intruder, auditFile] = process.argv.slice(2);
if (!auditFile) {
  console.error("usage: audit-tls-check.mjs PORT PKI_DIR SERVER_NAME PERMITTED_NAME INTRUDER_NAME AUDIT_FILE");
  process.exit(2);
}
let failed = 0;
const report = (check, ok, detail = "") => {
  if (!ok) failed++;
  console.log(JSON.stringify({ check, ok, detail: String(detail).slice(0, 200) }));
};
const ca = readFileSync(`${pki}/ca.pem`);
const identity = (name) => (name ? { cert: readFileSync(`${pki}/${name}.pem`), key: readFileSync(`${pki}/${name}.key`) } : {});
const deadline = (ms) => Date.now() + ms;

const message = (host, note) => {
  const id = randomUUID();
  const body = JSON.stringify({ id, note, text: "température 85°C — ✓" });
  return { id, line: `<110>1 ${new Date().toISOString()} ${host} enclave-gateway 4242 audit [audit@32473 seq="1"] \uFEFF${body}` };
};

/**
 * Connects as `name` (or without a certificate) and sends the messages octet-counted. A permitted
 * sender's session stays open until we end it; a refused one is closed by the receiver right
 * after the handshake (with TLS 1.3 the client's side of the handshake completes first, so the
 * refusal shows as the receiver closing or an alert, not as a failed connect).
 */
function send(name, lines, { expectRefusal = false } = {}) {
  return new Promise((resolve) => {
    const sock = tls.connect({ host: "127.0.0.1", port: Number(port), servername: serverName, ca, ...identity(name) });
    let settled = false;
    let wrote = false;
    const done = (result) => {
      if (!settled) {
        settled = true;
        sock.destroy();
        resolve(result);
      }
    };
    sock.setTimeout(5000, () => done({ closedByReceiver: false, error: "no answer within 5 s" }));
    sock.on("error", (e) => done({ closedByReceiver: true, wrote, error: e.message }));
    sock.on("end", () => done({ closedByReceiver: true, wrote }));
    sock.on("close", () => done({ closedByReceiver: true, wrote }));
    sock.on("secureConnect", () => {
      for (const m of lines) sock.write(`${Buffer.byteLength(m)} ${m}`);
      wrote = true;
      if (!expectRefusal) sock.end(() => done({ closedByReceiver: false, authorized: sock.authorized, protocol: sock.getProtocol() }));
    });
  });
}

async function waitListening() {
  const until = deadline(15000);
  for (;;) {
    const ok = await new Promise((resolve) => {
      const s = tls.connect({ host: "127.0.0.1", port: Number(port), servername: serverName, ca, ...identity(permitted) });
      s.on("secureConnect", () => { s.destroy(); resolve(true); });
      s.on("error", () => resolve(false));
    });
    if (ok) return true;
    if (Date.now() > until) return false;
    await new Promise((r) => setTimeout(r, 100));
  }
}

const fileText = () => (existsSync(auditFile) ? readFileSync(auditFile, "utf8") : "");
async function waitFor(predicate, ms) {
  const until = deadline(ms);
  while (!predicate(fileText())) {
    if (Date.now() > until) return false;
    await new Promise((r) => setTimeout(r, 100));
  }
  return true;
}

try {
  report("the receiver accepts TLS connections", await waitListening(), `127.0.0.1:${port}`);
  const bad1 = message("intruder", "intruder");
  const bad2 = message("anonymous", "no certificate");
  const good = [message("gw-eu-1", "first"), message("gw-eu-1", "second")];
  const r1 = await send(intruder, [bad1.line], { expectRefusal: true });
  const r2 = await send(undefined, [bad2.line], { expectRefusal: true });
  const r3 = await send(permitted, good.map((m) => m.line));
  report(`${permitted} is accepted (mutual TLS)`, r3.closedByReceiver === false && r3.authorized === true, JSON.stringify(r3));
  const arrived = await waitFor((t) => good.every((m) => t.includes(m.id)), 10000);
  report("its records are written to the region's file", arrived, auditFile);
  const text = fileText();
  const lines = text.split("\n");
  report("byte for byte, one record per line", good.every((m) => lines.includes(m.line)), lines.slice(-2).join(" | "));
  // A last permitted message: once it is written, anything sent before it has been processed too.
  const last = message("gw-eu-1", "last");
  await send(permitted, [last.line]);
  await waitFor((t) => t.includes(last.id), 10000);
  report(`${intruder} (same CA, not permitted) is refused and nothing of it written`, r1.closedByReceiver && !fileText().includes(bad1.id), JSON.stringify(r1));
  report("a sender without a certificate is refused and nothing of it written", r2.closedByReceiver && !fileText().includes(bad2.id), JSON.stringify(r2));
} catch (e) {
  report("unexpected error", false, e instanceof Error ? e.stack : e);
}
process.exit(failed === 0 ? 0 : 1);

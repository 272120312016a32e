import { execFile } from "node:child_process";
import { chmod, mkdir, writeFile } from "node:fs/promises";
import { join } from "node:path";
import { promisify } from "node:util";

const run = promisify(execFile);

export interface TestPki {
  dir: string;
  ca: string;
  server: { cert: string; key: string };
  /** CN audit-shipper.local: the permitted peer. */
  client: { cert: string; key: string };
  /** CN intruder.local: signed by the same CA, not permitted. */
  intruder: { cert: string; key: string };
}

/** Names a receiver permits in these tests. */
export const PERMITTED_PEER = "audit-shipper.local";

/**
 * A throw-away CA and certificates for mutual TLS, made with the real openssl (valid 2
 * days): a server certificate for localhost/127.0.0.1, a permitted client and an intruder.
 */
export async function makeTestPki(dir: string): Promise<TestPki> {
  await mkdir(dir, { recursive: true, mode: 0o700 });
  const p = (n: string) => join(dir, n);
  const openssl = (args: string[]) => run("openssl", args, { cwd: dir, timeout: 30_000 });
  await openssl(["req", "-x509", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:P-256", "-nodes", "-days", "2", "-subj", "/CN=enclave-test-audit-ca",
    "-keyout", p("ca.key"), "-out", p("ca.pem"), "-addext", "basicConstraints=critical,CA:true", "-addext", "keyUsage=critical,keyCertSign,cRLSign"]);
  const issue = async (name: string, cn: string, san: string, eku: string) => {
    await openssl(["req", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:P-256", "-nodes", "-subj", `/CN=${cn}`, "-keyout", p(`${name}.key`), "-out", p(`${name}.csr`)]);
    await writeFile(p(`${name}.ext`), `subjectAltName=${san}\nextendedKeyUsage=${eku}\nkeyUsage=critical,digitalSignature,keyEncipherment\n`);
    await openssl(["x509", "-req", "-in", p(`${name}.csr`), "-CA", p("ca.pem"), "-CAkey", p("ca.key"), "-CAcreateserial", "-days", "2", "-extfile", p(`${name}.ext`), "-out", p(`${name}.pem`)]);
    await chmod(p(`${name}.key`), 0o600);
  };
  await issue("server", "logstore.local", "DNS:localhost,DNS:logstore.local,IP:127.0.0.1", "serverAuth");
  await issue("client", PERMITTED_PEER, `DNS:${PERMITTED_PEER}`, "clientAuth");
  await issue("intruder", "intruder.local", "DNS:intruder.local", "clientAuth");
  return {
    dir,
    ca: p("ca.pem"),
    server: { cert: p("server.pem"), key: p("server.key") },
    client: { cert: p("client.pem"), key: p("client.key") },
    intruder: { cert: p("intruder.pem"), key: p("intruder.key") },
  };
}

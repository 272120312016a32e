import { spawnSync } from "node:child_process";
import { writeFileSync } from "node:fs";
import { join } from "node:path";

export interface TlsFiles {
  caFile: string;
  certFile: string;
  keyFile: string;
}

/** A throw-away CA and a server certificate for 127.0.0.1/localhost signed by it, made with the real openssl. */
export function makeTlsFiles(dir: string): TlsFiles {
  const f = (name: string) => join(dir, name);
  writeFileSync(f("san.ext"), "subjectAltName=IP:127.0.0.1,DNS:localhost\n");
  const run = (args: string[]) => {
    const r = spawnSync("openssl", args, { encoding: "utf8", timeout: 20000 });
    if (r.status !== 0) throw new Error(`openssl ${args[0]} failed: ${r.error?.message ?? r.stderr.slice(-500)}`);
  };
  const key = ["-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:prime256v1", "-nodes"];
  run(["req", "-x509", ...key, "-keyout", f("ca.key"), "-out", f("ca.pem"), "-days", "2", "-subj", "/CN=enclave-test-ca"]);
  run(["req", ...key, "-keyout", f("server.key"), "-out", f("server.csr"), "-subj", "/CN=127.0.0.1"]);
  run(["x509", "-req", "-in", f("server.csr"), "-CA", f("ca.pem"), "-CAkey", f("ca.key"), "-CAcreateserial", "-out", f("server.pem"), "-days", "2", "-extfile", f("san.ext")]);
  return { caFile: f("ca.pem"), certFile: f("server.pem"), keyFile: f("server.key") };
}

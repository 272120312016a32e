import { execFile } from "node:child_process";
import { chmod, mkdir, writeFile } from "node:fs/promises";
import { join } from "node:path";
import { promisify } from "node:util";

const run = promisify(execFile);

export interface TestCa {
  name: string;
  cert: string;
  key: string;
}

export interface Issued {
  cert: string;
  key: string;
}

/**
 * Throw-away certificates made with the real openssl (P-256, valid 2 days), for the
 * gateway's TLS listeners, client certificates and the scheduler's CA check.
 */
export class TestPki {
  private constructor(readonly dir: string) {}

  static async create(dir: string): Promise<TestPki> {
    await mkdir(dir, { recursive: true, mode: 0o700 });
    return new TestPki(dir);
  }

  private openssl(args: string[]) {
    return run("openssl", args, { cwd: this.dir, timeout: 30_000 });
  }

  async ca(name: string): Promise<TestCa> {
    const p = (n: string) => join(this.dir, n);
    await this.openssl(["req", "-x509", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:P-256", "-nodes", "-days", "2", "-subj", `/CN=${name}`,
      "-keyout", p(`${name}.key`), "-out", p(`${name}.pem`), "-addext", "basicConstraints=critical,CA:true", "-addext", "keyUsage=critical,keyCertSign,cRLSign"]);
    return { name, cert: p(`${name}.pem`), key: p(`${name}.key`) };
  }

  /** A leaf signed by `ca`: `san` like "DNS:localhost,IP:127.0.0.1", `eku` serverAuth or clientAuth. */
  async issue(ca: TestCa, name: string, cn: string, san: string, eku: "serverAuth" | "clientAuth"): Promise<Issued> {
    const p = (n: string) => join(this.dir, n);
    await this.openssl(["req", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:P-256", "-nodes", "-subj", `/CN=${cn}`, "-keyout", p(`${name}.key`), "-out", p(`${name}.csr`)]);
    await writeFile(p(`${name}.ext`), `subjectAltName=${san}\nextendedKeyUsage=${eku}\nkeyUsage=critical,digitalSignature,keyEncipherment\n`);
    await this.openssl(["x509", "-req", "-in", p(`${name}.csr`), "-CA", ca.cert, "-CAkey", ca.key, "-CAcreateserial", "-days", "2", "-extfile", p(`${name}.ext`), "-out", p(`${name}.pem`)]);
    await chmod(p(`${name}.key`), 0o600);
    return { cert: p(`${name}.pem`), key: p(`${name}.key`) };
  }
}

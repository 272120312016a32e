import { readFileSync } from "node:fs";
import { UsageError } from "../../usage.js";

/** Where the operator commands find the scheduler, and how they prove who they are. */
export interface Connection {
  url: string;
  /** Operator token (viewer or operator role). */
  token: string;
  /** PEM CA bundle the scheduler's certificate must chain to; the system CAs otherwise. */
  ca?: Buffer;
}

/** Flags every operator command takes (`node:util` parseArgs options). */
export const CONNECTION_OPTIONS = {
  scheduler: { type: "string" },
  "token-file": { type: "string" },
  "ca-file": { type: "string" },
  json: { type: "boolean", default: false },
} as const;

export const CONNECTION_HELP = `connection (flags win over the environment):
  --scheduler URL     or ENCLAVE_SCHEDULER_URL   the scheduler's API, http:// or https://
  --token-file FILE   or ENCLAVE_TOKEN_FILE      a file holding an operator token
                      or ENCLAVE_TOKEN           the token itself (never on the command line)
  --ca-file FILE      or ENCLAVE_CA_FILE         CA bundle to verify an https scheduler with
  --json                                         machine-readable output`;

/**
 * The connection from flags and environment. The token is never taken from a flag's value:
 * command lines are visible to every user of the machine (`ps`).
 */
export function connectionFrom(values: { scheduler?: string | undefined; "token-file"?: string | undefined; "ca-file"?: string | undefined }, env: NodeJS.ProcessEnv): Connection {
  const url = values.scheduler ?? env["ENCLAVE_SCHEDULER_URL"];
  if (!url) throw new UsageError("no scheduler: pass --scheduler URL or set ENCLAVE_SCHEDULER_URL");
  let parsed: URL;
  try {
    parsed = new URL(url);
  } catch {
    throw new UsageError(`--scheduler must be an http:// or https:// URL, not "${url}"`);
  }
  if (parsed.protocol !== "http:" && parsed.protocol !== "https:") throw new UsageError(`--scheduler must be an http:// or https:// URL, not "${url}"`);
  if (parsed.username || parsed.password) throw new UsageError("--scheduler must not carry credentials; use --token-file or ENCLAVE_TOKEN");

  const tokenFile = values["token-file"] ?? env["ENCLAVE_TOKEN_FILE"];
  let token: string | undefined;
  if (tokenFile) token = readText(tokenFile, "token file");
  else token = env["ENCLAVE_TOKEN"]?.trim();
  if (!token) throw new UsageError("no operator token: pass --token-file FILE, or set ENCLAVE_TOKEN_FILE or ENCLAVE_TOKEN");

  const caFile = values["ca-file"] ?? env["ENCLAVE_CA_FILE"];
  const ca = caFile ? Buffer.from(readText(caFile, "CA file")) : undefined;
  return { url: url.replace(/\/+$/, ""), token, ...(ca !== undefined ? { ca } : {}) };
}

function readText(file: string, what: string): string {
  let text: string;
  try {
    text = readFileSync(file, "utf8").trim();
  } catch (e) {
    throw new UsageError(`${what} ${file}: cannot read (${(e as NodeJS.ErrnoException).code ?? "error"})`);
  }
  if (!text) throw new UsageError(`${what} ${file} is empty`);
  return text;
}

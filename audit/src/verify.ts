import { createReadStream } from "node:fs";
import { readdir, stat } from "node:fs/promises";
import { join } from "node:path";
import { createInterface } from "node:readline";
import { isSegmentName } from "./spool/segment-header.js";
import { ChainVerifier, type VerifyOptions, type VerifyResult } from "./verify/chain-verifier.js";

export { ChainVerifier, type ChainReport, type VerifyOptions, type VerifyProblem, type VerifyResult } from "./verify/chain-verifier.js";

export function verifyAuditLines(lines: Iterable<string>, opts: VerifyOptions = {}): VerifyResult {
  const v = new ChainVerifier(opts);
  for (const line of lines) v.push(line);
  return v.result();
}

/**
 * Verifies one input: a file (a spool segment, a single-file log, or a receiver's stored
 * output, one entry per line), or a spool directory (every segment of every chain in it,
 * in chain order, as one input, so a segment missing between two is a gap). Streams, so
 * a long log is checked in constant memory. Rejects if the path cannot be read.
 */
export async function verifyAuditPath(path: string, opts: VerifyOptions = {}): Promise<VerifyResult> {
  const v = new ChainVerifier(opts);
  const files = await auditFilesOf(path);
  const many = (await stat(path)).isDirectory();
  for (const file of files) {
    v.beginFile(many ? file : undefined);
    const input = createReadStream(file, { encoding: "utf8" });
    const rl = createInterface({ input, crlfDelay: Infinity });
    try {
      for await (const line of rl) v.push(line);
    } finally {
      rl.close();
      input.destroy();
    }
  }
  return v.result();
}

/** The single-file form: {@link verifyAuditPath} of a file. */
export const verifyAuditFile = verifyAuditPath;

/** A file itself; for a directory its segment files, and those of its chain subdirectories, in chain order. */
export async function auditFilesOf(path: string): Promise<string[]> {
  if (!(await stat(path)).isDirectory()) return [path];
  const out: string[] = [];
  const entries = (await readdir(path, { withFileTypes: true })).sort((a, b) => (a.name < b.name ? -1 : a.name > b.name ? 1 : 0));
  for (const e of entries) if (e.isFile() && isSegmentName(e.name)) out.push(join(path, e.name));
  for (const e of entries) {
    if (!e.isDirectory()) continue;
    const sub = (await readdir(join(path, e.name))).filter(isSegmentName).sort();
    for (const n of sub) out.push(join(path, e.name, n));
  }
  if (out.length === 0) throw new Error(`${path}: no audit segment files (*.seg) in this directory or its chain directories`);
  return out;
}

import { readFileSync } from "node:fs";
import { parseArgs } from "node:util";
import { verifyAuditPath, verifyKeys, type ChainReport, type VerifyProblem, type VerifyResult } from "@enclave/audit";
import { UsageError } from "../usage.js";

const USAGE = "enclave audit verify [--public-key FILE]... [--sealed] PATH...";
const LISTED = 50;

/**
 * `enclave audit verify PATH...`: each PATH is a spool directory (all its chains and
 * segments), a segment file, a single-file log, or a receiver's stored output. Exit 0 only
 * if every chain in every PATH is whole (duplicates are allowed and flagged); with
 * `--public-key`, checkpoint signatures must be valid; with `--sealed`, every chain must
 * end with a checkpoint (nothing cut from the end).
 */
export async function runAuditVerify(args: string[]): Promise<number> {
  let parsed;
  try {
    parsed = parseArgs({ args, allowPositionals: true, options: { "public-key": { type: "string", multiple: true }, sealed: { type: "boolean", default: false } } });
  } catch (e) {
    throw new UsageError(`${(e as Error).message}\n  ${USAGE}`);
  }
  const paths = parsed.positionals;
  if (paths.length === 0) throw new UsageError(USAGE);
  const keyFiles = parsed.values["public-key"] ?? [];
  let keys;
  try {
    keys = keyFiles.length > 0 ? verifyKeys(keyFiles.map((f) => readFileSync(f, "utf8"))) : undefined;
  } catch (e) {
    throw new UsageError(`--public-key: ${(e as Error).message}`);
  }
  let broken = 0;
  for (const path of paths) {
    let r: VerifyResult;
    try {
      r = await verifyAuditPath(path, { ...(keys ? { keys } : {}), requireSealed: parsed.values.sealed });
    } catch (e) {
      broken++;
      process.stdout.write(`${path}: CANNOT READ: ${(e as Error).message}\n`);
      continue;
    }
    const dup = r.duplicates.length > 0 ? `, ${r.duplicates.length} duplicates (allowed)` : "";
    if (r.ok) process.stdout.write(`${path}: ok, ${r.records} records${dup}\n`);
    else {
      broken++;
      process.stdout.write(`${path}: BROKEN, ${r.records} records, ${r.problems.length} problems${dup}\n`);
    }
    for (const c of r.chains) process.stdout.write(`  ${describeChain(c)}\n`);
    for (const p of r.problems.slice(0, LISTED)) process.stdout.write(`  ${where(p)}: ${p.message}\n`);
    if (r.problems.length > LISTED) process.stdout.write(`  … ${r.problems.length - LISTED} more\n`);
    for (const d of r.duplicates.slice(0, 5)) process.stdout.write(`  duplicate: ${where(d)}: ${d.message}\n`);
  }
  if (keys === undefined && paths.length > 0) process.stdout.write("checkpoint signatures not checked (no --public-key)\n");
  return broken === 0 ? 0 : 1;
}

function where(p: VerifyProblem): string {
  return `${p.file === undefined ? "" : `${p.file} `}line ${p.line}${p.seq === null ? "" : ` (seq ${p.seq})`}`;
}

function describeChain(c: ChainReport): string {
  const name = c.chain === null ? c.emitter : `${c.emitter}/${c.chain}`;
  const seal =
    c.lastCheckpoint === null
      ? "no checkpoint"
      : `sealed through seq ${c.lastCheckpoint.seq} at ${c.lastCheckpoint.time} (signature ${c.lastCheckpoint.signature})${c.unsealed > 0 ? `, ${c.unsealed} records after it` : ""}`;
  return `chain ${name}: seq ${c.firstSeq}..${c.lastSeq}, ${c.records} records, ${c.checkpoints} checkpoints, ${seal}`;
}

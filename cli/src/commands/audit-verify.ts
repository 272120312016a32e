import { verifyAuditFile } from "@enclave/audit";
import { UsageError } from "../usage.js";

/** `enclave audit verify PATH...`: exit 0 only if every chain in every file is whole. */
export async function runAuditVerify(paths: string[]): Promise<number> {
  if (paths.length === 0) throw new UsageError("enclave audit verify PATH...");
  let broken = 0;
  for (const path of paths) {
    const r = await verifyAuditFile(path);
    if (r.ok) {
      process.stdout.write(`${path}: ok, ${r.records} records\n`);
      continue;
    }
    broken++;
    process.stdout.write(`${path}: BROKEN, ${r.records} records, ${r.problems.length} problems\n`);
    for (const p of r.problems.slice(0, 50)) {
      process.stdout.write(`  line ${p.line}${p.seq === null ? "" : ` (seq ${p.seq})`}: ${p.message}\n`);
    }
    if (r.problems.length > 50) process.stdout.write(`  … ${r.problems.length - 50} more\n`);
  }
  return broken === 0 ? 0 : 1;
}

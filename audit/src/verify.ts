import { createReadStream } from "node:fs";
import { createInterface } from "node:readline";
import { AuditRecord, GENESIS_HASH } from "@enclave/contracts";
import { recordHash } from "./record-hash.js";

export interface VerifyProblem {
  /** 1-based line number in the input. */
  line: number;
  /** The record's seq when it could be read, else null. */
  seq: number | null;
  message: string;
}

export interface VerifyResult {
  ok: boolean;
  /** Non-blank lines read. */
  records: number;
  problems: VerifyProblem[];
}

/** A hostile or shredded file must not make the report itself unbounded. */
const MAX_PROBLEMS = 1000;

/**
 * Checks each emitter's chain line by line: every line a well-formed record whose
 * hash matches its content, seq consecutive (from 0, or from the first record seen
 * when the input is a later segment), prevHash equal to the previous record's hash
 * (GENESIS_HASH for seq 0). After a problem the check resynchronises on the record
 * that broke the chain, so one edit is reported once, where it is.
 */
export class ChainVerifier {
  private readonly chains = new Map<string, { seq: number; hash: string; line: number }>();
  private line = 0;
  private records = 0;
  private dropped = 0;
  private readonly problems: VerifyProblem[] = [];

  push(text: string): void {
    this.line++;
    if (text.trim() === "") return;
    this.records++;
    let raw: unknown;
    try {
      raw = JSON.parse(text);
    } catch {
      return this.problem(null, "not valid JSON (torn or altered line)");
    }
    const parsed = AuditRecord.safeParse(raw);
    if (!parsed.success) {
      const issue = parsed.error.issues[0];
      const where = issue ? `${issue.path.join(".") || "(root)"}: ${issue.message}` : "invalid";
      const seq = typeof (raw as { seq?: unknown } | null)?.seq === "number" ? (raw as { seq: number }).seq : null;
      return this.problem(seq, `not an audit record (${where})`);
    }
    const r = parsed.data;
    // Hash the object as written, not the schema's output, so an added field is caught too.
    const { hash: _stored, ...content } = raw as Record<string, unknown>;
    if (recordHash(content as Omit<AuditRecord, "hash">) !== r.hash) {
      this.problem(r.seq, `hash mismatch: record seq ${r.seq} of ${r.emitter} was altered`);
    }
    const prev = this.chains.get(r.emitter);
    if (prev === undefined) {
      if (r.seq === 0 && r.prevHash !== GENESIS_HASH) {
        this.problem(r.seq, `first record of ${r.emitter} does not start from the genesis hash`);
      }
    } else if (r.seq !== prev.seq + 1) {
      const what = r.seq <= prev.seq ? "reordered or duplicated" : "missing";
      this.problem(r.seq, `expected seq ${prev.seq + 1} of ${r.emitter} after line ${prev.line}, found ${r.seq} (records ${what})`);
    } else if (r.prevHash !== prev.hash) {
      this.problem(r.seq, `prevHash does not match the hash of the record on line ${prev.line} (that record or this link was altered)`);
    }
    this.chains.set(r.emitter, { seq: r.seq, hash: r.hash, line: this.line });
  }

  result(): VerifyResult {
    const problems = [...this.problems];
    if (this.dropped > 0) {
      problems.push({ line: this.line, seq: null, message: `${this.dropped} further problems not listed` });
    }
    return { ok: problems.length === 0, records: this.records, problems };
  }

  private problem(seq: number | null, message: string): void {
    if (this.problems.length < MAX_PROBLEMS) this.problems.push({ line: this.line, seq, message });
    else this.dropped++;
  }
}

export function verifyAuditLines(lines: Iterable<string>): VerifyResult {
  const v = new ChainVerifier();
  for (const line of lines) v.push(line);
  return v.result();
}

/** Streams the file, so a long log is checked in constant memory. Rejects if the file cannot be read. */
export async function verifyAuditFile(path: string): Promise<VerifyResult> {
  const v = new ChainVerifier();
  const input = createReadStream(path, { encoding: "utf8" });
  const rl = createInterface({ input, crlfDelay: Infinity });
  try {
    for await (const line of rl) v.push(line);
  } finally {
    rl.close();
    input.destroy();
  }
  return v.result();
}

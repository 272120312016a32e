import type { KeyObject } from "node:crypto";
import { AuditCheckpoint, AuditRecord, GENESIS_HASH } from "@enclave/contracts";
import { checkSignature } from "../chain/checkpoint.js";
import { entryHash } from "../record-hash.js";
import type { SegmentHeader } from "../spool/segment-header.js";
import { decodeAuditLine } from "./audit-line.js";

export interface VerifyProblem {
  /** The file, when a verification spans several. */
  file?: string;
  /** 1-based line number in the file. */
  line: number;
  /** The entry's seq when it could be read, else null. */
  seq: number | null;
  message: string;
}

export interface ChainReport {
  emitter: string;
  /** null for single-file logs, whose records name no chain. */
  chain: string | null;
  firstSeq: number;
  lastSeq: number;
  records: number;
  checkpoints: number;
  duplicates: number;
  /** The last checkpoint seen, and whether its signature was checked against a given key. */
  lastCheckpoint: { seq: number; time: string; signature: "valid" | "unchecked" } | null;
  /** Records after the last checkpoint: nothing signed proves they are the end of the chain. */
  unsealed: number;
}

export interface VerifyResult {
  ok: boolean;
  /** Non-blank lines read, segment headers excepted. */
  records: number;
  problems: VerifyProblem[];
  /** Entries seen twice, identical: at-least-once delivery allows them; they are flagged, not failures. */
  duplicates: VerifyProblem[];
  chains: ChainReport[];
}

export interface VerifyOptions {
  /** Ed25519 public keys by key id: checkpoint signatures are checked (and must be valid, by a known key). */
  keys?: ReadonlyMap<string, KeyObject>;
  /** Fail unless every chain ends with a checkpoint. */
  requireSealed?: boolean;
}

/** A hostile or shredded file must not make the report itself unbounded. */
const MAX_LISTED = 1000;
/** Seqs remembered per chain to tell a duplicate (same hash) from a conflicting or reordered entry. */
const RECENT = 100_000;
const MAX_CHAINS = 10_000;

interface Seen {
  hash: string;
  file: string | undefined;
  line: number;
}

interface ChainState {
  report: ChainReport;
  seq: number;
  hash: string;
  file: string | undefined;
  line: number;
  recent: Map<number, Seen>;
}

/**
 * Checks chains line by line, each emitter's chains separately (they may be interleaved, as
 * in a receiver's file): every entry well-formed with a hash that matches its content, seq
 * consecutive (from 0, from a segment header's start, or from the first entry seen when the
 * input is a later part), prevHash equal to the previous entry's hash (GENESIS_HASH for
 * seq 0), checkpoint signatures valid when keys are given. An identical entry seen again is
 * a duplicate (flagged); after any other break the check resynchronises on the entry that
 * broke the chain, so one edit is reported once, where it is.
 */
export class ChainVerifier {
  private readonly chains = new Map<string, ChainState>();
  private readonly headers = new Map<string, SegmentHeader>();
  private file: string | undefined;
  private line = 0;
  private records = 0;
  private unlisted = 0;
  private unlistedDuplicates = 0;
  private readonly problems: VerifyProblem[] = [];
  private readonly duplicates: VerifyProblem[] = [];

  constructor(private readonly opts: VerifyOptions = {}) {}

  /** Line numbers restart; problems name `file` (leave it undefined for a single input). */
  beginFile(file: string | undefined): void {
    this.file = file;
    this.line = 0;
  }

  push(text: string): void {
    this.line++;
    const d = decodeAuditLine(text);
    switch (d.kind) {
      case "blank":
        return;
      case "header":
        this.headers.set(chainKey(d.header.emitter, d.header.chain), d.header);
        return;
      case "bad":
        this.records++;
        return this.problem(null, d.message);
      case "entry":
        this.records++;
        return this.entry(d.value);
    }
  }

  result(): VerifyResult {
    const problems = [...this.problems];
    const chains = [...this.chains.values()].map((c) => c.report);
    if (this.opts.requireSealed) {
      for (const c of chains) {
        if (c.unsealed > 0 || c.lastCheckpoint === null) {
          const name = chainName(c.emitter, c.chain);
          const why = c.lastCheckpoint === null ? "has no checkpoint" : `has ${c.unsealed} records after its last checkpoint (seq ${c.lastCheckpoint.seq})`;
          problems.push({ ...this.at(), seq: c.lastSeq, message: `${name} ${why}: nothing signed proves it was not cut short` });
        }
      }
    }
    if (this.unlisted > 0) problems.push({ ...this.at(), seq: null, message: `${this.unlisted} further problems not listed` });
    const duplicates = [...this.duplicates];
    if (this.unlistedDuplicates > 0) duplicates.push({ ...this.at(), seq: null, message: `${this.unlistedDuplicates} further duplicates not listed` });
    return { ok: problems.length === 0, records: this.records, problems, duplicates, chains };
  }

  private entry(raw: unknown): void {
    const isCheckpoint = (raw as { kind?: unknown } | null)?.kind === "checkpoint";
    const parsed = isCheckpoint ? AuditCheckpoint.safeParse(raw) : AuditRecord.safeParse(raw);
    if (!parsed.success) {
      const issue = parsed.error.issues[0];
      const where = issue ? `${issue.path.join(".") || "(root)"}: ${issue.message}` : "invalid";
      const seq = typeof (raw as { seq?: unknown } | null)?.seq === "number" ? (raw as { seq: number }).seq : null;
      return this.problem(seq, `not an audit ${isCheckpoint ? "checkpoint" : "record"} (${where})`);
    }
    const e = parsed.data;
    const chain = e.chain ?? null;
    const name = chainName(e.emitter, chain);
    const what = isCheckpoint ? "checkpoint" : "record";
    // Hash the object as written, not the schema's output, so an added field is caught too.
    if (entryHash(raw as object) !== e.hash) this.problem(e.seq, `hash mismatch: ${what} seq ${e.seq} of ${name} was altered`);

    const key = chainKey(e.emitter, chain);
    const header = this.headers.get(key);
    this.headers.delete(key);
    let st = this.chains.get(key);
    if (st === undefined) {
      if (this.chains.size >= MAX_CHAINS) return this.problem(e.seq, `more than ${MAX_CHAINS} chains in one input`);
      if (header !== undefined && (e.seq !== header.firstSeq || e.prevHash !== header.prevHash)) {
        this.problem(e.seq, `the segment continues ${name} from seq ${header.firstSeq} but its first entry is seq ${e.seq}${e.seq === header.firstSeq ? " with another prevHash" : ""} (entries missing or altered)`);
      } else if (header === undefined && e.seq === 0 && e.prevHash !== GENESIS_HASH) {
        this.problem(e.seq, `first record of ${name} does not start from the genesis hash`);
      }
      st = {
        report: { emitter: e.emitter, chain, firstSeq: e.seq, lastSeq: e.seq, records: 0, checkpoints: 0, duplicates: 0, lastCheckpoint: null, unsealed: 0 },
        seq: e.seq, hash: e.hash, file: this.file, line: this.line, recent: new Map(),
      };
      this.chains.set(key, st);
    } else if (e.seq === st.seq + 1) {
      if (e.prevHash !== st.hash) {
        this.problem(e.seq, `prevHash does not match the hash of the entry on ${this.where(st)} (that entry or this link was altered)`);
      }
    } else if (e.seq <= st.seq) {
      const seen = st.recent.get(e.seq);
      if (seen !== undefined && seen.hash === e.hash) {
        st.report.duplicates++;
        return this.duplicate(e.seq, `duplicate of ${what} seq ${e.seq} of ${name} on ${this.where(seen)}`);
      }
      if (seen !== undefined) this.problem(e.seq, `seq ${e.seq} of ${name} appears twice with different content (first on ${this.where(seen)})`);
      else this.problem(e.seq, `expected seq ${st.seq + 1} of ${name} after ${this.where(st)}, found ${e.seq} (records reordered or duplicated)`);
      this.remember(st, e.seq, e.hash);
      return;
    } else {
      const gap = e.seq - st.seq - 1;
      this.problem(e.seq, `expected seq ${st.seq + 1} of ${name} after ${this.where(st)}, found ${e.seq} (${gap === 1 ? "1 record" : `${gap} records`} missing)`);
    }
    st.seq = e.seq;
    st.hash = e.hash;
    st.file = this.file;
    st.line = this.line;
    st.report.lastSeq = e.seq;
    this.remember(st, e.seq, e.hash);
    if (isCheckpoint) this.checkpoint(st, raw as AuditCheckpoint, name);
    else {
      st.report.records++;
      st.report.unsealed++;
    }
  }

  private checkpoint(st: ChainState, c: AuditCheckpoint, name: string): void {
    st.report.checkpoints++;
    let signature: "valid" | "unchecked" = "unchecked";
    if (this.opts.keys !== undefined) {
      const check = checkSignature(c, this.opts.keys);
      if (check === "unknown-key") return this.problem(c.seq, `checkpoint seq ${c.seq} of ${name} is signed by key ${c.keyId}, which is not among the given public keys`);
      if (check === "invalid") return this.problem(c.seq, `checkpoint seq ${c.seq} of ${name} has an invalid signature`);
      signature = "valid";
    }
    st.report.lastCheckpoint = { seq: c.seq, time: c.time, signature };
    st.report.unsealed = 0;
  }

  private remember(st: ChainState, seq: number, hash: string): void {
    st.recent.set(seq, { hash, file: this.file, line: this.line });
    if (st.recent.size > RECENT) st.recent.delete(st.recent.keys().next().value!);
  }

  private where(s: { file: string | undefined; line: number }): string {
    return s.file !== undefined && s.file !== this.file ? `${s.file} line ${s.line}` : `line ${s.line}`;
  }

  private at(): { file?: string; line: number } {
    return this.file === undefined ? { line: this.line } : { file: this.file, line: this.line };
  }

  private problem(seq: number | null, message: string): void {
    if (this.problems.length < MAX_LISTED) this.problems.push({ ...this.at(), seq, message });
    else this.unlisted++;
  }

  private duplicate(seq: number, message: string): void {
    if (this.duplicates.length < MAX_LISTED) this.duplicates.push({ ...this.at(), seq, message });
    else this.unlistedDuplicates++;
  }
}

function chainKey(emitter: string, chain: string | null): string {
  return `${emitter}\u0000${chain ?? ""}`;
}

function chainName(emitter: string, chain: string | null): string {
  return chain === null ? emitter : `${emitter}/${chain}`;
}

/** One complete reading cut from a loop's output: the header and its rows, as one call would print them. */
export interface LoopReading {
  /** When its last row arrived. */
  at: number;
  text: string;
}

/** Bounds on what a loop's output may make us hold. */
const MAX_ROWS = 64;
const MAX_STRAY = 16;
const MAX_EARLY_CHARS = 16 * 1024;

interface Building {
  rows: string[];
  stray: string[];
  lastIndex: number | undefined;
  uuids: Set<string>;
  at: number;
  /** Ended because it had as many rows as the reading before, so a late row of its round may still join it. */
  byCount: boolean;
}

/**
 * Cuts `nvidia-smi --query-gpu=… --format=csv -lms N` output into readings. nvidia-smi prints
 * the header once, then one row per GPU each round, with no marker between rounds. A reading
 * ends when it has as many rows as the one before (at first: the count a one-shot call found),
 * or when a row starts the next round: its index is not above the last one's, its UUID is
 * already in, or the header comes again. A row of the same round after a reading ended by
 * count (a GPU more than before) joins that reading. Lines before the header are kept apart
 * (`early`): they are what nvidia-smi said instead (a rejected field, a driver error).
 */
export class LoopReadings {
  private header: string | undefined;
  private fieldCount = 0;
  private indexColumn = -1;
  private uuidColumn = -1;
  private building: Building | undefined;
  private last: Building | undefined;
  private expected: number;
  private earlyText = "";

  constructor(
    private readonly fields: readonly string[],
    gpuCount: number,
    /** How long after a reading ended by count a late row of the same round may still join it. */
    private readonly joinWindowMs: number,
  ) {
    this.expected = Math.max(1, gpuCount);
  }

  /** The latest complete reading, if any. */
  latest(): LoopReading | undefined {
    const r = this.last;
    return r && { at: r.at, text: [this.header ?? "", ...r.rows, ...r.stray].join("\n") + "\n" };
  }

  /** What came before the header. */
  early(): string {
    return this.earlyText;
  }

  /** Takes one line of output (without its line end); true when it completed a reading. */
  push(line: string, now: number): boolean {
    if (line.trim() === "") return false;
    if (this.header === undefined) {
      const names = line.split(",").map((h) => h.trim().replace(/\s*\[[^\]]*\]$/, ""));
      if (names.length === this.fields.length && names.every((n) => /^[A-Za-z][A-Za-z0-9_.]*$/.test(n))) {
        this.header = line;
        this.fieldCount = names.length;
        this.indexColumn = names.indexOf("index");
        this.uuidColumn = names.indexOf("uuid");
      } else {
        this.earlyText = (this.earlyText + line + "\n").slice(0, MAX_EARLY_CHARS);
      }
      return false;
    }
    if (line === this.header) return this.finish(false, now);
    const cells = line.split(",").map((c) => c.trim());
    if (cells.length !== this.fieldCount) {
      const b = (this.building ??= fresh());
      if (b.stray.length < MAX_STRAY) b.stray.push(line.trim().slice(0, 200));
      return false;
    }
    const idx = cells[this.indexColumn];
    const index = idx !== undefined && /^\d+$/.test(idx) ? Number(idx) : undefined;
    const uuid = this.uuidColumn >= 0 ? cells[this.uuidColumn] : undefined;
    const sameRound = (b: Building) => !(index !== undefined && b.lastIndex !== undefined && index <= b.lastIndex) && !(uuid !== undefined && b.uuids.has(uuid));

    const last = this.last;
    if (!this.building && last?.byCount && sameRound(last) && now - last.at <= this.joinWindowMs && last.rows.length < MAX_ROWS) {
      add(last, line, index, uuid);
      last.at = now;
      this.expected = last.rows.length;
      return true;
    }
    let completed = false;
    if (this.building && this.building.rows.length > 0 && !sameRound(this.building)) completed = this.finish(false, now);
    const b = (this.building ??= fresh());
    if (b.rows.length >= MAX_ROWS) return completed;
    add(b, line, index, uuid);
    if (b.rows.length >= this.expected) return this.finish(true, now) || completed;
    return completed;
  }

  private finish(byCount: boolean, now: number): boolean {
    const b = this.building;
    this.building = undefined;
    if (!b || b.rows.length === 0) return false;
    b.at = now;
    b.byCount = byCount;
    if (!byCount) this.expected = b.rows.length;
    this.last = b;
    return true;
  }
}

function fresh(): Building {
  return { rows: [], stray: [], lastIndex: undefined, uuids: new Set(), at: 0, byCount: false };
}

function add(b: Building, line: string, index: number | undefined, uuid: string | undefined): void {
  b.rows.push(line);
  if (index !== undefined) b.lastIndex = index;
  if (uuid !== undefined) b.uuids.add(uuid);
}

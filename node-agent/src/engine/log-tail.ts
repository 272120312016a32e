import { MAX_LOG_LINE_CHARS, shareableLogLine } from "./engine-log-filter.js";

/** A line still without its end is judged by this much of its start; the rest of it is not kept. */
const PARTIAL_LIMIT = MAX_LOG_LINE_CHARS * 4;

/**
 * The last `maxChars` characters of what an engine wrote, as it may leave the node: enough to
 * say why it died, bounded so a chatty engine cannot grow the agent's memory, and without the
 * lines that may hold request content (engine-log-filter.ts), which are never kept at all.
 */
export class LogTail {
  private readonly lines: string[] = [];
  private chars = 0;
  private partial = "";
  /** The line in progress was too long and is already judged; its rest is skipped. */
  private skipping = false;
  private withheld = 0;

  constructor(private readonly maxChars = 8192) {}

  push(chunk: string): void {
    let rest = chunk;
    for (let nl = rest.indexOf("\n"); nl >= 0; nl = rest.indexOf("\n")) {
      if (this.skipping) this.skipping = false;
      else this.add(this.partial + rest.slice(0, nl));
      this.partial = "";
      rest = rest.slice(nl + 1);
    }
    if (this.skipping) return;
    this.partial += rest;
    if (this.partial.length > PARTIAL_LIMIT) {
      this.add(this.partial);
      this.partial = "";
      this.skipping = true;
    }
  }

  toString(): string {
    const pending = this.partial === "" ? undefined : shareableLogLine(this.partial);
    const withheld = this.withheld + (this.partial !== "" && pending === undefined ? 1 : 0);
    const text = (pending === undefined ? this.lines : [...this.lines, pending]).join("\n");
    // Last, so that a reader keeping only the end of the tail still sees that lines are missing.
    const note = withheld > 0 ? `\n[${withheld} line${withheld === 1 ? "" : "s"} that may hold request content withheld]` : "";
    const room = Math.max(0, this.maxChars - note.length);
    return (text.length > room ? text.slice(-room) : text) + note;
  }

  private add(raw: string): void {
    const line = shareableLogLine(raw.endsWith("\r") ? raw.slice(0, -1) : raw);
    if (line === undefined) {
      this.withheld++;
      return;
    }
    if (line.trim() === "") return;
    this.lines.push(line);
    this.chars += line.length + 1;
    // Trimmed in batches, so a stream of short lines does not shift the array every time.
    if (this.chars > this.maxChars * 2) {
      let drop = 0;
      while (this.chars > this.maxChars && drop < this.lines.length - 1) this.chars -= (this.lines[drop++] ?? "").length + 1;
      this.lines.splice(0, drop);
    }
  }
}

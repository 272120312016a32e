/**
 * The last `maxChars` characters an engine wrote: enough to say why it died,
 * bounded so a chatty engine cannot grow the agent's memory.
 */
export class LogTail {
  private text = "";
  constructor(private readonly maxChars = 8192) {}

  push(chunk: string): void {
    this.text += chunk;
    // Trim in batches so a stream of small chunks does not copy the buffer every time.
    if (this.text.length > this.maxChars * 2) this.text = this.text.slice(-this.maxChars);
  }

  toString(): string {
    return this.text.length > this.maxChars ? this.text.slice(-this.maxChars) : this.text;
  }
}

/** One benchmark part (`npm run bench -- --only NAME`). Timing goals live here, never in tests. */
export interface BenchPart {
  name: string;
  /** One line for `--list`. */
  describe: string;
  /**
   * Runs the part. Human-readable lines go through `print`; with `json`, the part prints
   * one JSON object per result line through `emit` instead, for scripts.
   */
  run(ctx: BenchContext): Promise<void>;
}

export interface BenchContext {
  json: boolean;
  print(line: string): void;
  emit(record: Record<string, unknown>): void;
}

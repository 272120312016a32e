/** A line longer than this is not one the Docker API sends; it is dropped rather than buffered. */
const MAX_LINE_CHARS = 1024 * 1024;

/**
 * Reads a stream of newline-delimited JSON (the Docker API's events and pull progress)
 * and calls `onObject` with each object; lines that are not JSON are skipped. Resolves
 * when the stream ends, rejects when it fails.
 */
export function readJsonLines(stream: NodeJS.ReadableStream, onObject: (o: unknown) => void): Promise<void> {
  return new Promise((resolve, reject) => {
    let buffered = "";
    const flush = (final: boolean) => {
      let nl: number;
      while ((nl = buffered.indexOf("\n")) >= 0) {
        emit(buffered.slice(0, nl));
        buffered = buffered.slice(nl + 1);
      }
      if (final) emit(buffered);
      else if (buffered.length > MAX_LINE_CHARS) buffered = "";
    };
    const emit = (line: string) => {
      const t = line.trim();
      if (t === "") return;
      try {
        onObject(JSON.parse(t));
      } catch {
        // not JSON: skipped
      }
    };
    stream.on("data", (chunk: Buffer | string) => {
      buffered += typeof chunk === "string" ? chunk : chunk.toString("utf8");
      flush(false);
    });
    stream.once("end", () => {
      flush(true);
      resolve();
    });
    stream.once("error", reject);
    stream.once("close", () => resolve());
  });
}

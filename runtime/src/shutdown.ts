import type { Logger } from "pino";

/**
 * Runs `close` once on SIGINT or SIGTERM, then exits. A second signal exits at once.
 * `close` gets `timeoutMs` before the process exits anyway.
 */
export function onShutdown(log: Logger, close: () => Promise<void>, timeoutMs = 10000): void {
  let closing = false;
  const handler = (signal: NodeJS.Signals) => {
    if (closing) process.exit(1);
    closing = true;
    log.info({ signal }, "shutting down");
    const timer = setTimeout(() => {
      log.error("shutdown timed out");
      process.exit(1);
    }, timeoutMs);
    timer.unref();
    close().then(
      () => process.exit(0),
      (e: unknown) => {
        log.error({ err: e }, "shutdown failed");
        process.exit(1);
      },
    );
  };
  process.on("SIGINT", handler);
  process.on("SIGTERM", handler);
}

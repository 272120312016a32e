/**
 * Engine flags that make an engine write request or response content to its log or its disk.
 * Never allowed: an engine's log tail travels to the scheduler, and prompts never may leave the
 * data path. vLLM logs no requests since 0.10.1 unless `--enable-log-requests` (before, unless
 * `--disable-log-requests`); SGLang only with `--log-requests`, and a crash dump holds the last
 * requests.
 */
export const REQUEST_CONTENT_FLAGS = {
  vllm: ["--enable-log-requests", "--no-disable-log-requests", "--enable-log-outputs"],
  sglang: ["--log-requests", "--crash-dump-folder"],
} as const satisfies Record<string, readonly string[]>;

const ALL_FLAGS: readonly string[] = Object.values(REQUEST_CONTENT_FLAGS).flat();

/** The first argument that would make an engine record request content (`--flag` or `--flag=value`), or undefined. */
export function requestContentArg(args: readonly string[]): string | undefined {
  return args.find((a) => ALL_FLAGS.some((f) => a === f || a.startsWith(`${f}=`)));
}

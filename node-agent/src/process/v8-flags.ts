import { setFlagsFromString } from "node:v8";

/**
 * V8 settings for the agent process, which must stay within ~80 MB resident and 1% of a
 * core on every GPU server. Set from `enclave agent` before the agent loads (never by
 * `startAgent`, which tests and tools embed in their own processes). Node has no other
 * place that travels with the program: NODE_OPTIONS would need every unit file and shell
 * to carry it, and a re-exec would cost a second process.
 *
 * - `--semi-space-growth-factor=1`: the young generation stays at its initial 1 MB semi-spaces
 *   instead of growing to 16 MB during start-up and keeping them for a while. The agent
 *   allocates little per second, so the extra scavenges cost next to nothing.
 * - `--optimize-for-size`: V8's memory-saving heuristics (slower heap growth, more eager
 *   compaction); the agent's heap is small, so its full collections are short.
 * - `--no-sparkplug`, `--no-opt`: no baseline or optimised machine code. The agent runs
 *   little JavaScript per second (a CSV parse, a heartbeat, a scrape every 15 s), which the
 *   interpreter handles well within budget, while compiled code costs ~10 MB of memory.
 *
 * These flags only change how V8 compiles and collects, never what the program does.
 * Only flags V8 reads after start-up work from here (`--max-semi-space-size` would not).
 */
export const AGENT_V8_FLAGS = ["--semi-space-growth-factor=1", "--optimize-for-size", "--no-sparkplug", "--no-opt"] as const;

export function applyAgentV8Flags(): void {
  for (const flag of AGENT_V8_FLAGS) setFlagsFromString(flag);
}

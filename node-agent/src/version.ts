import { readFileSync } from "node:fs";

/** The node-agent package's version, reported in every heartbeat. */
export const AGENT_VERSION: string = (() => {
  try {
    const pkg = JSON.parse(readFileSync(new URL("../package.json", import.meta.url), "utf8")) as { version?: unknown };
    return typeof pkg.version === "string" ? pkg.version.slice(0, 50) : "unknown";
  } catch {
    return "unknown";
  }
})();

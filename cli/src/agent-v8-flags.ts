import { applyAgentV8Flags } from "@enclave/node-agent/process/v8-flags";

// Imported first by main.ts, so it runs before any other module loads: `enclave agent`
// gets V8 settings for its memory and CPU budget (node-agent/src/process/v8-flags.ts).
if (process.argv[2] === "agent" && process.argv[3] !== "probe") applyAgentV8Flags();

import { parseArgs } from "node:util";
import { ModelName } from "@enclave/contracts";
import type { EngineSimOptions } from "./server.js";

export type EngineCliArgs = { help: true } | { help: false; exitWithParent: boolean; engine: EngineSimOptions };

export type CliParse = { ok: true; args: EngineCliArgs } | { ok: false; error: string };

export const ENGINE_USAGE = `usage: node sim/dist/engine-main.js --port P --model M [options]
  --host H              address to bind (default 127.0.0.1)
  --port P              port to bind, 0 for any (required)
  --model M             served model name (required)
  --ttft-ms N           time to first token, ms (default 20)
  --itl-ms N            inter-token latency, ms (default 5)
  --max-concurrent N    sequences generated at once (default 64)
  --output-tokens N     tokens generated when max_tokens does not say (default 16)
  --max-model-len N     context window, tokens (default 8192)
  --exit-with-parent    exit when stdin closes
  --help                this text
On start it prints one line to stdout: {"event":"listening","url":"http://H:P","pid":N}`;

const numeric = {
  "port": { min: 0, max: 65535, int: true },
  "ttft-ms": { min: 0, max: 600_000, int: false },
  "itl-ms": { min: 0, max: 60_000, int: false },
  "max-concurrent": { min: 1, max: 100_000, int: true },
  "output-tokens": { min: 1, max: 1_000_000, int: true },
  "max-model-len": { min: 1, max: 100_000_000, int: true },
} as const;

/** argv (without node and script) to the engine's options, or what is wrong with it. */
export function parseEngineArgs(argv: readonly string[]): CliParse {
  let values: Record<string, string | boolean | undefined>;
  try {
    ({ values } = parseArgs({
      args: [...argv],
      strict: true,
      allowPositionals: false,
      options: {
        "host": { type: "string" },
        "port": { type: "string" },
        "model": { type: "string" },
        "ttft-ms": { type: "string" },
        "itl-ms": { type: "string" },
        "max-concurrent": { type: "string" },
        "output-tokens": { type: "string" },
        "max-model-len": { type: "string" },
        "exit-with-parent": { type: "boolean" },
        "help": { type: "boolean" },
      },
    }));
  } catch (e) {
    return { ok: false, error: (e as Error).message };
  }
  if (values.help === true) return { ok: true, args: { help: true } };

  const numbers: Partial<Record<keyof typeof numeric, number>> = {};
  for (const [name, rule] of Object.entries(numeric) as [keyof typeof numeric, (typeof numeric)[keyof typeof numeric]][]) {
    const raw = values[name];
    if (raw === undefined) continue;
    const n = typeof raw === "string" && /^\d+(\.\d+)?$/.test(raw) ? Number(raw) : Number.NaN;
    if (!Number.isFinite(n) || n < rule.min || n > rule.max || (rule.int && !Number.isInteger(n))) {
      return { ok: false, error: `--${name} must be ${rule.int ? "an integer" : "a number"} from ${rule.min} to ${rule.max}, got '${String(raw)}'` };
    }
    numbers[name] = n;
  }
  if (numbers.port === undefined) return { ok: false, error: "--port is required" };
  const model = values.model;
  if (typeof model !== "string" || model === "") return { ok: false, error: "--model is required" };
  if (!ModelName.safeParse(model).success) return { ok: false, error: "--model must be a model name of letters, digits and . _ - / :" };
  const host = values.host;
  if (host !== undefined && (typeof host !== "string" || host === "")) return { ok: false, error: "--host must not be empty" };

  const engine: EngineSimOptions = { model, port: numbers.port };
  if (typeof host === "string") engine.host = host;
  if (numbers["ttft-ms"] !== undefined) engine.ttftMs = numbers["ttft-ms"];
  if (numbers["itl-ms"] !== undefined) engine.itlMs = numbers["itl-ms"];
  if (numbers["max-concurrent"] !== undefined) engine.maxConcurrent = numbers["max-concurrent"];
  if (numbers["output-tokens"] !== undefined) engine.outputTokens = numbers["output-tokens"];
  if (numbers["max-model-len"] !== undefined) engine.maxModelLen = numbers["max-model-len"];
  return { ok: true, args: { help: false, exitWithParent: values["exit-with-parent"] === true, engine } };
}

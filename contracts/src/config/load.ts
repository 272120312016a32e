import { readFileSync } from "node:fs";
import { parseDocument } from "yaml";
import type { z } from "zod";

/** A config file that cannot be used: names the file, the path inside it and what was expected. */
export class ConfigError extends Error {
  constructor(
    readonly file: string,
    readonly problems: readonly { path: string; message: string }[],
  ) {
    super(`invalid config ${file}:\n` + problems.map((p) => `  ${p.path || "(root)"}: ${p.message}`).join("\n"));
    this.name = "ConfigError";
  }
}

function pathString(path: readonly PropertyKey[]): string {
  return path.map((p, i) => (typeof p === "number" ? `[${p}]` : (i === 0 ? "" : ".") + String(p))).join("");
}

/** Validates already-parsed data; `file` only labels the error. */
export function parseConfig<S extends z.ZodType>(schema: S, data: unknown, file: string): z.infer<S> {
  const r = schema.safeParse(data);
  if (!r.success) {
    throw new ConfigError(file, r.error.issues.map((i) => ({ path: pathString(i.path), message: i.message })));
  }
  return r.data;
}

export function parseConfigText<S extends z.ZodType>(schema: S, text: string, file: string): z.infer<S> {
  const doc = parseDocument(text, { prettyErrors: true, uniqueKeys: true });
  if (doc.errors.length > 0) {
    throw new ConfigError(file, doc.errors.map((e) => ({ path: e.linePos ? `line ${e.linePos[0].line}` : "", message: `YAML: ${e.message.split("\n")[0]}` })));
  }
  return parseConfig(schema, doc.toJS() ?? {}, file);
}

export function loadConfigFile<S extends z.ZodType>(schema: S, file: string): z.infer<S> {
  let text: string;
  try {
    text = readFileSync(file, "utf8");
  } catch (e) {
    throw new ConfigError(file, [{ path: "", message: `cannot read: ${(e as NodeJS.ErrnoException).code ?? String(e)}` }]);
  }
  return parseConfigText(schema, text, file);
}

/** What the Docker API said, from a dockerode error: the HTTP status and the daemon's message. */
export function apiStatus(e: unknown): number | undefined {
  const status = (e as { statusCode?: unknown } | null)?.statusCode;
  return typeof status === "number" ? status : undefined;
}

export function apiErrorText(e: unknown): string {
  if (e === null || typeof e !== "object") return String(e);
  const err = e as { statusCode?: unknown; json?: unknown; reason?: unknown; message?: unknown; code?: unknown; name?: unknown };
  const json = err.json as { message?: unknown } | null | undefined;
  const daemon = typeof json?.message === "string" ? json.message : undefined;
  if (typeof err.statusCode === "number") return `HTTP ${err.statusCode}: ${daemon ?? (typeof err.reason === "string" ? err.reason : String(err.message))}`;
  if (err.name === "AbortError" || err.name === "TimeoutError") return "no answer from the Docker API in time";
  const code = typeof err.code === "string" ? `${err.code} ` : "";
  return `${code}${typeof err.message === "string" ? err.message : String(e)}`;
}

/** A host port already taken, as Docker ("port is already allocated") and podman ("address already in use") say it. */
export function isPortConflict(e: unknown): boolean {
  return /port is already allocated|address already in use|bind: /i.test(apiErrorText(e));
}

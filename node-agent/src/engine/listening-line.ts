/** The engine simulator's one stdout line saying it is up; undefined for any other line. */
export function parseListeningLine(line: string): { url: string; pid: number | undefined } | undefined {
  const trimmed = line.trim();
  if (!trimmed.startsWith("{")) return undefined;
  let json: unknown;
  try {
    json = JSON.parse(trimmed);
  } catch {
    return undefined;
  }
  if (typeof json !== "object" || json === null) return undefined;
  const { event, url, pid } = json as Record<string, unknown>;
  if (event !== "listening" || typeof url !== "string") return undefined;
  let parsed: URL;
  try {
    parsed = new URL(url);
  } catch {
    return undefined;
  }
  if (parsed.protocol !== "http:" && parsed.protocol !== "https:") return undefined;
  return { url: url.replace(/\/+$/, ""), pid: typeof pid === "number" && Number.isInteger(pid) ? pid : undefined };
}

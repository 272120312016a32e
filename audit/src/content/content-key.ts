/** An AES-256 key from its file text: 64 hex characters or base64 of 32 bytes. Errors never quote it. */
export function parseContentKey(text: string): Buffer {
  const t = text.trim();
  if (/^[0-9a-fA-F]{64}$/.test(t)) return Buffer.from(t, "hex");
  if (/^[A-Za-z0-9+/_-]{42,44}={0,2}$/.test(t)) {
    const b = Buffer.from(t, t.includes("-") || t.includes("_") ? "base64url" : "base64");
    if (b.length === 32) return b;
  }
  throw new Error("the audit content key must be 32 bytes, written as 64 hex characters or base64");
}

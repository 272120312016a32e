import { randomBytes } from "node:crypto";

/** A fresh credential: a readable prefix, then 192 random bits. */
export function newToken(prefix: string): string {
  return `${prefix}-${randomBytes(24).toString("base64url")}`;
}

import { createHash, timingSafeEqual } from "node:crypto";
import { readFileSync } from "node:fs";
import type { SecretRef } from "@enclave/contracts";

/** Reads a secret from its file or environment variable. Errors name the source, never the value. */
export function readSecret(ref: SecretRef): string {
  if ("file" in ref) {
    let v: string;
    try {
      v = readFileSync(ref.file, "utf8").trim();
    } catch (e) {
      throw new Error(`secret file ${ref.file}: cannot read (${(e as NodeJS.ErrnoException).code ?? "error"})`);
    }
    if (!v) throw new Error(`secret file ${ref.file} is empty`);
    return v;
  }
  const v = process.env[ref.env]?.trim();
  if (!v) throw new Error(`secret environment variable ${ref.env} is not set`);
  return v;
}

export function sha256Hex(s: string | Uint8Array): string {
  return createHash("sha256").update(s).digest("hex");
}

/**
 * Hashed credentials, each with the id it stands for. `match` hashes the presented
 * secret and compares it with every stored digest in constant time, without stopping
 * at the first hit, so timing says nothing about which or how many digests exist.
 */
export class TokenSet<T> {
  private readonly entries: { digest: Buffer; value: T }[];
  constructor(entries: Iterable<{ sha256: string; value: T }>) {
    this.entries = [...entries].map((e) => ({ digest: Buffer.from(e.sha256, "hex"), value: e.value }));
  }
  match(presented: string | undefined): T | undefined {
    if (!presented) return undefined;
    const digest = createHash("sha256").update(presented).digest();
    let found: T | undefined;
    for (const e of this.entries) {
      if (timingSafeEqual(e.digest, digest) && found === undefined) found = e.value;
    }
    return found;
  }
}

/** `Authorization: Bearer X` → X. */
export function bearer(header: string | undefined): string | undefined {
  if (!header) return undefined;
  const m = /^Bearer\s+(\S+)\s*$/i.exec(header);
  return m?.[1];
}

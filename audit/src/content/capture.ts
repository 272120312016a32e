import { createCipheriv, createDecipheriv, createHash, randomBytes, type Hash } from "node:crypto";
import type { AuditContent, AuditContentMode } from "@enclave/contracts";

/**
 * Collects what a tenant's content mode keeps of one request: the request body once, the
 * response as it streams by. Memory stays bounded: hashes are incremental and at most
 * `maxBytes` of ciphertext is held.
 */
export interface ContentCapture {
  request(body: Buffer): void;
  response(chunk: Buffer): void;
  /** The record's `content`, or undefined when nothing was seen. Call once. */
  finish(): AuditContent | undefined;
}

export interface ContentKey {
  id: string;
  /** 32 bytes. */
  key: Buffer;
}

const AAD_PREFIX = "enclave-audit-content/v1 ";

export function createContentCapture(mode: AuditContentMode, opts: { key?: ContentKey; maxBytes: number }): ContentCapture | null {
  if (mode === "none") return null;
  if (mode === "sha256") return new HashCapture();
  if (!opts.key) throw new Error("content mode encrypted needs a content key");
  return new EncryptingCapture(opts.key, opts.maxBytes);
}

class HashCapture implements ContentCapture {
  protected requestSha256: string | null = null;
  protected requestBytes = 0;
  private responseHash: Hash | null = null;
  protected responseBytes = 0;

  request(body: Buffer): void {
    if (this.requestSha256 !== null) return;
    this.requestSha256 = createHash("sha256").update(body).digest("hex");
    this.requestBytes = body.length;
  }

  response(chunk: Buffer): void {
    (this.responseHash ??= createHash("sha256")).update(chunk);
    this.responseBytes += chunk.length;
  }

  protected hashes() {
    return {
      requestSha256: this.requestSha256,
      requestBytes: this.requestBytes,
      responseSha256: this.responseHash === null ? null : this.responseHash.digest("hex"),
      responseBytes: this.responseBytes,
    };
  }

  finish(): AuditContent | undefined {
    if (this.requestSha256 === null && this.responseHash === null) return undefined;
    return { mode: "sha256", ...this.hashes() };
  }
}

class EncryptingCapture extends HashCapture {
  private readonly iv = randomBytes(12);
  private readonly cipher;
  private readonly out: Buffer[] = [];
  private room: number;
  private encryptedRequestBytes = 0;
  private truncated = false;

  constructor(private readonly key: ContentKey, maxBytes: number) {
    super();
    this.cipher = createCipheriv("aes-256-gcm", key.key, this.iv);
    this.cipher.setAAD(Buffer.from(AAD_PREFIX + key.id, "utf8"));
    this.room = maxBytes;
  }

  override request(body: Buffer): void {
    if (this.requestSha256 !== null) return;
    super.request(body);
    this.encryptedRequestBytes = this.take(body);
  }

  override response(chunk: Buffer): void {
    super.response(chunk);
    this.take(chunk);
  }

  private take(b: Buffer): number {
    const n = Math.min(this.room, b.length);
    if (n < b.length) this.truncated = true;
    if (n > 0) {
      this.out.push(this.cipher.update(b.subarray(0, n)));
      this.room -= n;
    }
    return n;
  }

  override finish(): AuditContent | undefined {
    const hashes = this.hashes();
    if (hashes.requestSha256 === null && hashes.responseSha256 === null) return undefined;
    this.out.push(this.cipher.final());
    return {
      mode: "encrypted",
      ...hashes,
      alg: "AES-256-GCM",
      keyId: this.key.id,
      iv: this.iv.toString("base64"),
      tag: this.cipher.getAuthTag().toString("base64"),
      ciphertext: Buffer.concat(this.out).toString("base64"),
      encryptedRequestBytes: this.encryptedRequestBytes,
      truncated: this.truncated,
    };
  }
}

/** The plaintext of an `encrypted` content: the request bytes and the response bytes it holds. Throws if the key or data is wrong. */
export function decryptContent(c: Extract<AuditContent, { mode: "encrypted" }>, key: ContentKey): { request: Buffer; response: Buffer } {
  if (c.keyId !== key.id) throw new Error(`content was encrypted under key '${c.keyId}', not '${key.id}'`);
  const d = createDecipheriv("aes-256-gcm", key.key, Buffer.from(c.iv, "base64"));
  d.setAAD(Buffer.from(AAD_PREFIX + c.keyId, "utf8"));
  d.setAuthTag(Buffer.from(c.tag, "base64"));
  const plain = Buffer.concat([d.update(Buffer.from(c.ciphertext, "base64")), d.final()]);
  return { request: plain.subarray(0, c.encryptedRequestBytes), response: plain.subarray(c.encryptedRequestBytes) };
}

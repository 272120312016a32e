import { createHash, createPrivateKey, createPublicKey, randomUUID, sign, verify, type KeyObject } from "node:crypto";
import type { AuditCheckpoint } from "@enclave/contracts";
import { canonicalJson } from "../canonical-json.js";
import { entryHash } from "../record-hash.js";

/** Signs checkpoints with one Ed25519 key; the key itself stays inside. */
export interface CheckpointSigner {
  readonly keyId: string;
  /** Base64 Ed25519 signature of the UTF-8 bytes of `payload`. */
  sign(payload: string): string;
}

/** From a PKCS#8 PEM (`openssl genpkey -algorithm ed25519`). Errors never quote the key. */
export function checkpointSigner(pem: string): CheckpointSigner {
  let key: KeyObject;
  try {
    key = createPrivateKey(pem);
  } catch {
    throw new Error("the audit checkpoint key is not a readable PEM private key");
  }
  if (key.asymmetricKeyType !== "ed25519") {
    throw new Error(`the audit checkpoint key must be Ed25519, not ${key.asymmetricKeyType ?? "unknown"}`);
  }
  const keyId = publicKeyId(createPublicKey(key));
  return { keyId, sign: (payload) => sign(null, Buffer.from(payload, "utf8"), key).toString("base64") };
}

/** Names a key without revealing anything: the start of the sha256 of its public key (SPKI DER). */
export function publicKeyId(pub: KeyObject): string {
  return createHash("sha256").update(pub.export({ type: "spki", format: "der" })).digest("hex").slice(0, 32);
}

/** Public keys by key id, from PEM public keys (or private keys, whose public half is used). */
export function verifyKeys(pems: readonly string[]): Map<string, KeyObject> {
  const keys = new Map<string, KeyObject>();
  for (const pem of pems) {
    let pub: KeyObject;
    try {
      pub = createPublicKey(pem);
    } catch {
      throw new Error("not a readable PEM public key");
    }
    if (pub.asymmetricKeyType !== "ed25519") throw new Error(`not an Ed25519 key (${pub.asymmetricKeyType ?? "unknown"})`);
    keys.set(publicKeyId(pub), pub);
  }
  return keys;
}

/** What is signed: the checkpoint without its signature and hash, canonically. */
export function checkpointPayload(c: object): string {
  const { signature: _s, hash: _h, ...rest } = c as { signature?: unknown; hash?: unknown };
  return canonicalJson(rest);
}

export function buildCheckpoint(
  at: { seq: number; prevHash: string; emitter: string; chain: string; time: Date },
  signer: CheckpointSigner,
): AuditCheckpoint {
  const unsigned = {
    kind: "checkpoint" as const,
    id: randomUUID(),
    seq: at.seq,
    time: at.time.toISOString(),
    emitter: at.emitter,
    chain: at.chain,
    keyId: signer.keyId,
    prevHash: at.prevHash,
  };
  const signed = { ...unsigned, signature: signer.sign(checkpointPayload(unsigned)) };
  return { ...signed, hash: entryHash(signed) };
}

export type SignatureCheck = "valid" | "invalid" | "unknown-key";

/** Checks a checkpoint as it was read (the raw object, so added fields count). */
export function checkSignature(raw: { keyId: string; signature: string }, keys: ReadonlyMap<string, KeyObject>): SignatureCheck {
  const key = keys.get(raw.keyId);
  if (key === undefined) return "unknown-key";
  const sig = Buffer.from(raw.signature, "base64");
  if (sig.length !== 64) return "invalid";
  return verify(null, Buffer.from(checkpointPayload(raw), "utf8"), key, sig) ? "valid" : "invalid";
}

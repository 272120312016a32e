import { test } from "node:test";
import assert from "node:assert/strict";
import { generateKeyPairSync } from "node:crypto";
import { GENESIS_HASH } from "@enclave/contracts";
import { entryHash } from "../record-hash.js";
import { buildCheckpoint, checkpointSigner, checkSignature, verifyKeys } from "./checkpoint.js";

function keyPair() {
  const { privateKey, publicKey } = generateKeyPairSync("ed25519");
  return { priv: privateKey.export({ type: "pkcs8", format: "pem" }).toString(), pub: publicKey.export({ type: "spki", format: "pem" }).toString() };
}

test("a checkpoint is signed over everything but its signature and hash, and verifies with the public key", () => {
  const k = keyPair();
  const signer = checkpointSigner(k.priv);
  const c = buildCheckpoint({ seq: 7, prevHash: "ab".repeat(32), emitter: "gw", chain: "eu-central-1", time: new Date(0) }, signer);
  assert.equal(c.kind, "checkpoint");
  assert.equal(c.hash, entryHash(c));
  const keys = verifyKeys([k.pub]);
  assert.deepEqual([...keys.keys()], [signer.keyId]);
  assert.equal(checkSignature(c, keys), "valid");
  // The private key names the same key id (its public half is used).
  assert.equal(checkSignature(c, verifyKeys([k.priv])), "valid");
  assert.equal(checkSignature({ ...c, seq: 8 } as typeof c, keys), "invalid");
  assert.equal(checkSignature({ ...c, prevHash: GENESIS_HASH } as typeof c, keys), "invalid");
  assert.equal(checkSignature({ ...c, extra: 1 } as typeof c, keys), "invalid");
  assert.equal(checkSignature({ ...c, signature: "AAAA" }, keys), "invalid");
  assert.equal(checkSignature(c, verifyKeys([keyPair().pub])), "unknown-key");
});

test("only Ed25519 keys are accepted, and errors never quote the key", () => {
  const rsa = generateKeyPairSync("rsa", { modulusLength: 1024 }).privateKey.export({ type: "pkcs8", format: "pem" }).toString();
  assert.throws(() => checkpointSigner(rsa), /must be Ed25519, not rsa/);
  assert.throws(() => checkpointSigner("-----BEGIN PRIVATE KEY-----\nsecretstuff\n-----END PRIVATE KEY-----"), (e: Error) => !e.message.includes("secretstuff"));
  assert.throws(() => verifyKeys(["nope"]), /not a readable PEM public key/);
});

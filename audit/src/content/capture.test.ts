import { test } from "node:test";
import assert from "node:assert/strict";
import { createHash, randomBytes } from "node:crypto";
import { AuditContent } from "@enclave/contracts";
import { createContentCapture, decryptContent } from "./capture.js";
import { parseContentKey } from "./content-key.js";

const sha = (b: Buffer | string) => createHash("sha256").update(b).digest("hex");
const key = { id: "k-2025", key: randomBytes(32) };

test("mode none keeps nothing; sha256 keeps the hashes and sizes of both bodies", () => {
  assert.equal(createContentCapture("none", { maxBytes: 10 }), null);
  const c = createContentCapture("sha256", { maxBytes: 10 })!;
  c.request(Buffer.from('{"prompt":"secret"}'));
  c.response(Buffer.from("data: a\n\n"));
  c.response(Buffer.from("data: b\n\n"));
  const out = c.finish();
  assert.deepEqual(out, {
    mode: "sha256", requestSha256: sha('{"prompt":"secret"}'), requestBytes: 19, responseSha256: sha("data: a\n\ndata: b\n\n"), responseBytes: 18,
  });
  assert.equal(AuditContent.safeParse(out).success, true);
  assert.doesNotMatch(JSON.stringify(out), /secret/);
});

test("a capture that saw nothing adds no content", () => {
  assert.equal(createContentCapture("sha256", { maxBytes: 10 })!.finish(), undefined);
  assert.equal(createContentCapture("encrypted", { key, maxBytes: 10 })!.finish(), undefined);
});

test("encrypted content decrypts to the request then the response bytes, only with the right key", () => {
  const c = createContentCapture("encrypted", { key, maxBytes: 1024 })!;
  c.request(Buffer.from("the prompt"));
  c.response(Buffer.from("the "));
  c.response(Buffer.from("answer"));
  const out = c.finish();
  assert.ok(out && out.mode === "encrypted");
  assert.equal(AuditContent.safeParse(out).success, true);
  assert.equal(out.keyId, "k-2025");
  assert.equal(out.truncated, false);
  assert.equal(out.requestSha256, sha("the prompt"));
  assert.doesNotMatch(JSON.stringify(out), /prompt|answer/);
  const plain = decryptContent(out, key);
  assert.equal(plain.request.toString(), "the prompt");
  assert.equal(plain.response.toString(), "the answer");
  assert.throws(() => decryptContent(out, { id: "k-2025", key: randomBytes(32) }), /unable to authenticate|auth/i);
  assert.throws(() => decryptContent(out, { id: "other", key: key.key }), /encrypted under key 'k-2025', not 'other'/);
  assert.throws(() => decryptContent({ ...out, ciphertext: Buffer.from("tampered").toString("base64") }, key));
});

test("encryption stops at maxBytes and says so; the hashes still cover everything", () => {
  const c = createContentCapture("encrypted", { key, maxBytes: 8 })!;
  c.request(Buffer.from("12345"));
  c.response(Buffer.from("abcdef"));
  const out = c.finish();
  assert.ok(out && out.mode === "encrypted");
  assert.equal(out.truncated, true);
  assert.equal(out.responseBytes, 6);
  assert.equal(out.responseSha256, sha("abcdef"));
  const plain = decryptContent(out, key);
  assert.equal(plain.request.toString(), "12345");
  assert.equal(plain.response.toString(), "abc");
});

test("content keys are 32 bytes in hex or base64", () => {
  const raw = randomBytes(32);
  assert.deepEqual(parseContentKey(raw.toString("hex") + "\n"), raw);
  assert.deepEqual(parseContentKey(raw.toString("base64")), raw);
  assert.deepEqual(parseContentKey(raw.toString("base64url")), raw);
  assert.throws(() => parseContentKey("abcd"), /32 bytes/);
  assert.throws(() => parseContentKey(randomBytes(16).toString("hex")), (e: Error) => /32 bytes/.test(e.message) && !/[0-9a-f]{32}/.test(e.message));
});

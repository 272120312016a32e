import { test } from "node:test";
import assert from "node:assert/strict";
import { decodeFrame, encodeFrame, looksLikeFrame } from "./frame.js";

test("a frame is CRC, space, JSON, newline, and decodes back", () => {
  const json = '{"a":"température ✓ 推論","b":1}';
  const f = encodeFrame(json);
  assert.equal(f[f.length - 1], 0x0a);
  assert.match(f.toString("latin1", 0, 9), /^[0-9a-f]{8} $/);
  assert.deepEqual(decodeFrame(f.subarray(0, -1)), { ok: true, json });
  assert.deepEqual(decodeFrame(f.toString("utf8").slice(0, -1)), { ok: true, json });
  assert.equal(looksLikeFrame(f.toString("utf8")), true);
});

test("any changed byte fails the checksum; other lines are not frames", () => {
  const f = encodeFrame('{"seq":1,"region":"eu-central-1"}').subarray(0, -1);
  const altered = Buffer.from(f.toString("utf8").replace("eu-central-1", "us-east-1"));
  assert.deepEqual(decodeFrame(altered), { ok: false, reason: "frame checksum mismatch (torn or altered line)" });
  assert.equal(decodeFrame(f.subarray(0, f.length - 3)).ok, false);
  assert.equal(decodeFrame('{"seq":1}').ok, false);
  assert.equal(decodeFrame("zzzzzzzz {}").ok, false);
  assert.equal(decodeFrame("").ok, false);
});

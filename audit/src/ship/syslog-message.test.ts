import { test } from "node:test";
import assert from "node:assert/strict";
import { decodeAuditLine, syslogBody } from "../verify/audit-line.js";
import type { SpooledEntry } from "../spool/spool-reader.js";
import { octetCounted, sdEscape, syslogHostname, syslogMessage, wireJson } from "./syslog-message.js";

const entry = (json: string): SpooledEntry => ({
  json, kind: "record", seq: 42, time: "2025-01-02T03:04:05.678Z", emitter: "gw-1", chain: "eu-central-1", end: { segment: "x", offset: 0 },
});
const header = { hostname: "gw-host", appName: "enclave", procId: "1234" };

test("an RFC 5424 message with the entry as a BOM-prefixed JSON MSG", () => {
  const m = syslogMessage(entry('{"a":1}'), header);
  assert.equal(m, '<86>1 2025-01-02T03:04:05.678Z gw-host enclave 1234 audit-record [enclave-audit@32473 emitter="gw-1" chain="eu-central-1" seq="42"] \uFEFF{"a":1}');
  assert.equal(octetCounted("héllo"), "6 héllo");
  assert.equal(syslogBody(m), '{"a":1}');
});

test("characters receivers rewrite are escaped without changing the JSON value", () => {
  const json = JSON.stringify({ r: "del\u007f c1\u0085 nl\n ✓ 推論" });
  const wire = wireJson(json);
  assert.doesNotMatch(wire, /[\u0000-\u001f\u007f-\u009f]/);
  assert.deepEqual(JSON.parse(wire), JSON.parse(json));
  assert.equal(sdEscape('a"b]c\\d'), 'a\\"b\\]c\\\\d');
  assert.equal(syslogHostname("my host\u00e9.example"), "myhost.example");
  assert.equal(syslogHostname(""), "-");
});

test("stored syslog lines decode back to the entry, with or without a BOM", () => {
  const value = { seq: 1, s: "x]\"y" };
  const m = syslogMessage(entry(JSON.stringify(value)), header);
  assert.deepEqual(decodeAuditLine(m), { kind: "entry", value });
  const noBom = m.replace("\uFEFF", "");
  assert.deepEqual(decodeAuditLine(noBom), { kind: "entry", value });
  assert.deepEqual(decodeAuditLine('<86>1 - - - - - - {"seq":2}'), { kind: "entry", value: { seq: 2 } });
  assert.equal(decodeAuditLine("<86>1 - - - - - - plain text").kind, "bad");
  assert.equal(decodeAuditLine("Jan  1 00:00:00 host app: hello").kind, "bad");
});

import { test } from "node:test";
import assert from "node:assert/strict";
import fc from "fast-check";
import { createCompletionHold } from "./completion-hold.js";

const b = (s: string) => Buffer.from(s);

function run(sse: boolean, chunks: string[]): { sent: string; rest: string } {
  const h = createCompletionHold(sse);
  const sent = chunks.map((c) => h.push(b(c)).toString()).join("");
  return { sent, rest: h.rest().toString() };
}

test("a body of known length: everything but its last byte goes out; nothing is lost or reordered", () => {
  assert.deepEqual(run(false, ['{"id":', '"x"}']), { sent: '{"id":"x"', rest: "}" });
  assert.deepEqual(run(false, []), { sent: "", rest: "" });
  fc.assert(
    fc.property(fc.array(fc.string({ maxLength: 20 })), (chunks) => {
      const r = run(false, chunks);
      assert.equal(r.sent + r.rest, chunks.join(""));
      assert.equal(r.rest.length, chunks.join("").length > 0 ? Buffer.byteLength(r.rest) : 0);
    }),
  );
});

test("an SSE stream: events flow at once; [DONE] and what follows wait; half lines wait for their end", () => {
  const events = ['data: {"a":1}\n\n', 'data: {"b":2}\n\n', "data: [DONE]\n\n"];
  assert.deepEqual(run(true, events), { sent: events[0]! + events[1]!, rest: "data: [DONE]\n\n" });
  const h = createCompletionHold(true);
  assert.equal(h.push(b('data: {"a"')).toString(), "");
  assert.equal(h.push(b(':1}\n\ndata: [DO')).toString(), 'data: {"a":1}\n\n');
  assert.equal(h.push(b("NE]\n\n")).toString(), "");
  assert.equal(h.rest().toString(), "data: [DONE]\n\n");
  // `[DONE]` inside an event's data is not the end.
  assert.deepEqual(run(true, ['data: {"t":"data: [DONE]"}\n\n']).rest, "");
  fc.assert(
    fc.property(fc.array(fc.constantFrom('data: {"x":1}\n\n', "data: [DONE]\n\n", ": ping\n", "data: ", "[DONE]\n", "\n")), (chunks) => {
      const r = run(true, chunks);
      assert.equal(r.sent + r.rest, chunks.join(""));
      assert.doesNotMatch(r.sent, /(^|\n)data: \[DONE\]/);
    }),
  );
});

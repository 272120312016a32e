import { test } from "node:test";
import assert from "node:assert/strict";
import fc from "fast-check";
import { PII_CLASSES } from "@enclave/contracts";
import { redactRequestBody } from "./redact-request.js";
import { createRedactor, findPii, redactText, type RedactionCounts } from "./redact-text.js";
import { redactResponseJson, SseRedactor } from "./sse-response.js";
import { holdBackFrom, StreamingRedactor } from "./streaming-text.js";

const ALL = createRedactor(PII_CLASSES);

/** Splits `s` at the given cut points. */
function pieces(s: string, cuts: number[]): string[] {
  const at = [...new Set(cuts.map((c) => c % (s.length + 1)))].sort((a, b) => a - b);
  const out: string[] = [];
  let prev = 0;
  for (const c of at) {
    out.push(s.slice(prev, c));
    prev = c;
  }
  out.push(s.slice(prev));
  return out;
}

const values = ["jane.doe@example.com", "+49 30 12345678", "4111 1111 1111 1111", "DE89 3704 0044 0532 0130 00", "123-45-6789", "10.20.30.40", "2001:db8::8a2e:370:7334"];

test("only the tail that could still become a value is held back", () => {
  assert.equal(holdBackFrom("Hello there, how are you? ", PII_CLASSES), "Hello there, how are you? ".length);
  assert.equal(holdBackFrom("how are you", PII_CLASSES), "how are ".length, "a word could still become a local part");
  assert.equal(holdBackFrom("write to jane.d", ["email"]), "write to ".length);
  assert.equal(holdBackFrom("call +49 30 12", ["phone"]), "call ".length);
  assert.equal(holdBackFrom("nothing to see ", ["card"]), "nothing to see ".length);
  const s = new StreamingRedactor(ALL, {});
  assert.equal(s.push("Hi! "), "Hi! ");
  assert.equal(s.push("Mail jane"), "Mail ");
  assert.equal(s.push(".doe@exam"), "");
  assert.equal(s.push("ple.com now"), "[REDACTED_EMAIL] ");
  assert.equal(s.flush(), "now");
});

test("property: a stream split anywhere redacts like the whole text, and leaks no value", () => {
  const text = fc.array(fc.oneof(fc.constantFrom(...values), fc.constantFrom("hello", "the", "number", "is", ".", ",", "!", "42", "and", "x")), { maxLength: 12 })
    .map((ws) => ws.join(" "));
  fc.assert(fc.property(text, fc.array(fc.nat(), { maxLength: 20 }), (t, cuts) => {
    const counts: RedactionCounts = {};
    const s = new StreamingRedactor(ALL, counts);
    const out = pieces(t, cuts).map((p) => s.push(p)).join("") + s.flush();
    const whole: RedactionCounts = {};
    assert.equal(out, redactText(t, ALL, whole));
    assert.deepEqual(counts, whole);
    assert.deepEqual(findPii(out, PII_CLASSES), []);
    for (const v of values) assert.ok(!out.includes(v));
  }), { numRuns: 400 });
});

test("a card running into neighbouring digit groups, streamed a character at a time or cut anywhere, leaves no card digit", () => {
  const texts = [
    "123-45-6789 4111 1111 1111 1111 123-45-6789",
    "123-45-6789 4111 1111 1111 1111 4111 1111 1111 1111 10.20.30.40",
    "ref 12 34 4111111111111111 5 67 89 end",
  ];
  for (const t of texts) {
    const whole = redactText(t, ALL, {});
    assert.ok(!whole.includes("4111") && !whole.includes("1111"), whole);
    for (let cut = 0; cut <= t.length; cut++) {
      const s = new StreamingRedactor(ALL, {});
      assert.equal(s.push(t.slice(0, cut)) + s.push(t.slice(cut)) + s.flush(), whole, `cut at ${cut}`);
    }
    const s = new StreamingRedactor(ALL, {});
    assert.equal([...t].map((ch) => s.push(ch)).join("") + s.flush(), whole);
  }
});

function sseChunk(content: string, finish: string | null = null): string {
  return `data: ${JSON.stringify({ id: "c1", object: "chat.completion.chunk", created: 1, model: "m", choices: [{ index: 0, delta: { content }, finish_reason: finish }] })}\n\n`;
}

function contentOf(sse: string): string {
  let text = "";
  for (const line of sse.split("\n")) {
    if (!line.startsWith("data: ") || line === "data: [DONE]") continue;
    const o = JSON.parse(line.slice(6)) as { choices: { delta?: { content?: string } }[] };
    for (const c of o.choices) text += c.delta?.content ?? "";
  }
  return text;
}

test("property: an SSE stream cut at any byte still has every value redacted, and [DONE] stays last", () => {
  const tokens = fc.array(fc.oneof(fc.constantFrom(...values), fc.constantFrom("Sure", ", ", "here", " it is: ", "é", "😀", "\n")), { minLength: 1, maxLength: 8 })
    .chain((ws) => fc.array(fc.nat({ max: 6 }), { minLength: ws.length, maxLength: ws.length }).map((sizes) => {
      // Split the text into model "tokens" of 1–7 characters.
      const all = ws.join(" ");
      const toks: string[] = [];
      let i = 0;
      let k = 0;
      while (i < all.length) {
        const n = 1 + (sizes[k++ % sizes.length] ?? 0);
        toks.push(all.slice(i, i + n));
        i += n;
      }
      return { all, toks };
    }));
  fc.assert(fc.property(tokens, fc.array(fc.nat(), { maxLength: 30 }), fc.boolean(), ({ all, toks }, cuts, finishLast) => {
    const upstream = Buffer.from(toks.map((t, i) => sseChunk(t, finishLast && i === toks.length - 1 ? "stop" : null)).join("") + "data: [DONE]\n\n");
    const counts: RedactionCounts = {};
    const red = new SseRedactor("chat", ALL, counts);
    let out = "";
    const at = [...new Set(cuts.map((c) => c % (upstream.length + 1)))].sort((a, b) => a - b);
    let prev = 0;
    for (const c of [...at, upstream.length]) {
      out += red.push(upstream.subarray(prev, c));
      prev = c;
    }
    out += red.end();
    const got = contentOf(out);
    assert.equal(got, redactText(all, ALL, {}));
    for (const v of values) assert.ok(!out.includes(v), `${v} leaked`);
    assert.ok(out.endsWith("data: [DONE]\n\n"));
  }), { numRuns: 300 });
});

test("request bodies: every text part, nothing else", () => {
  const body: Record<string, unknown> = {
    model: "m", user: "a@b.io",
    messages: [
      { role: "system", content: "you are helpful" },
      { role: "user", content: [{ type: "text", text: "my card 4111111111111111" }, { type: "image_url", image_url: { url: "http://10.0.0.1/x.png" } }] },
      { role: "user", content: "mail me: jane@example.com" },
    ],
  };
  const counts: RedactionCounts = {};
  assert.equal(redactRequestBody("chat", body, ALL, counts), true);
  assert.deepEqual(counts, { card: 1, email: 1 });
  assert.equal(body.user, "a@b.io", "only text parts sent to the model are touched");
  const msgs = body.messages as { content: unknown }[];
  assert.deepEqual(msgs[1]!.content, [{ type: "text", text: "my card [REDACTED_CARD]" }, { type: "image_url", image_url: { url: "http://10.0.0.1/x.png" } }]);
  assert.equal(msgs[2]!.content, "mail me: [REDACTED_EMAIL]");
  const completion = { model: "m", prompt: ["call 555-123-4567", "fine"] };
  assert.equal(redactRequestBody("completion", completion, ALL, {}), true);
  assert.deepEqual(completion.prompt, ["call [REDACTED_PHONE]", "fine"]);
  const embedding = { model: "m", input: "nothing here" };
  assert.equal(redactRequestBody("embedding", embedding, ALL, {}), false);
});

test("a whole JSON answer is redacted in its message content", () => {
  const body = Buffer.from(JSON.stringify({ id: "x", choices: [{ index: 0, message: { role: "assistant", content: "reach me at 10.1.2.3" } }], usage: { prompt_tokens: 1 } }));
  const counts: RedactionCounts = {};
  const out = redactResponseJson("chat", body, ALL, counts);
  assert.ok(out);
  assert.equal((JSON.parse(out.toString()) as { choices: { message: { content: string } }[] }).choices[0]!.message.content, "reach me at [REDACTED_IP]");
  assert.deepEqual(counts, { ipv4: 1 });
  assert.equal(redactResponseJson("chat", Buffer.from('{"choices":[{"message":{"content":"hi"}}]}'), ALL, {}), null);
});

import { test } from "node:test";
import assert from "node:assert/strict";
import { chatPromptTokens, completionPromptTokens, countPieces, generatedText, tokenText } from "./text.js";

test("generated text is the phrase, cycled, one token per word or stop", () => {
  assert.equal(generatedText(5), "This is a simulated answer");
  assert.equal(tokenText(0), "This");
  assert.equal(tokenText(11), " This", "after the full stop the phrase starts again, with a space");
  assert.equal(generatedText(12), "This is a simulated answer from the Enclave engine simulator. This");
});

test("pieces count words and punctuation, not spaces", () => {
  assert.equal(countPieces(""), 0);
  assert.equal(countPieces("Hello, world!"), 4);
  assert.equal(countPieces("  a  b\n\tc  "), 3);
  assert.equal(countPieces("größe 42"), 2);
});

test("chat prompts add template framing per message; text parts count", () => {
  assert.equal(chatPromptTokens([{ content: "Hello, world!" }]), 3 + 4 + 4);
  assert.equal(chatPromptTokens([{ content: "a b" }, { content: [{ type: "text", text: "c" }, { type: "image_url" }] }, { content: null }]), 3 + 4 * 3 + 3);
});

test("completion prompts: text gets a BOS token, token ids count as themselves", () => {
  assert.equal(completionPromptTokens("one two"), 3);
  assert.equal(completionPromptTokens(["one two"]), 3);
  assert.equal(completionPromptTokens([1, 2, 3, 4]), 4);
});

import { test } from "node:test";
import assert from "node:assert/strict";
import fc from "fast-check";
import { PII_CLASSES, type PiiClass } from "@enclave/contracts";
import { ibanChecksumValid, luhnValid } from "./checksums.js";
import { findCards } from "./card.js";
import { createRedactor, DETECTORS, findAllCandidates, findPii, redactText, type RedactionCounts } from "./redact-text.js";

const ALL = createRedactor(PII_CLASSES);
const redactAll = (text: string) => {
  const counts: RedactionCounts = {};
  return { text: redactText(text, ALL, counts), counts };
};

test("each class is found in the formats people write", () => {
  const cases: [PiiClass, string][] = [
    ["email", "jane.doe+tag@mail.example.co.uk"],
    ["email", "o'brien@example.ie"],
    ["phone", "+49 30 12345678"],
    ["phone", "+1 (555) 123-4567"],
    ["phone", "+44 20 7946 0958"],
    ["phone", "(555) 123-4567"],
    ["phone", "555-123-4567"],
    ["phone", "555.123.4567"],
    ["phone", "030 1234567"],
    ["phone", "0151-23456789"],
    ["phone", "01 23 45 67 89"],
    ["phone", "07700900123"],
    ["iban", "DE89370400440532013000"],
    ["iban", "DE89 3704 0044 0532 0130 00"],
    ["iban", "GB29 NWBK 6016 1331 9268 19"],
    ["iban", "FR1420041010050500013M02606"],
    ["card", "4111111111111111"],
    ["card", "4111 1111 1111 1111"],
    ["card", "5500-0000-0000-0004"],
    ["card", "378282246310005"],
    ["us_ssn", "123-45-6789"],
    ["ipv4", "192.168.10.254"],
    ["ipv6", "2001:db8::8a2e:370:7334"],
    ["ipv6", "fe80::1ff:fe23:4567:890a"],
    ["ipv6", "::ffff:192.0.2.128"],
  ];
  for (const [cls, value] of cases) {
    const text = `Please note: ${value}. Thanks`;
    const r = redactAll(text);
    assert.ok(!r.text.includes(value), `${cls} ${value} survived: ${r.text}`);
    assert.equal(r.counts[cls], 1, `${value} counted as ${JSON.stringify(r.counts)}`);
    assert.equal(Object.values(r.counts).reduce((a, b) => a + (b ?? 0), 0), 1, `${value}: ${JSON.stringify(r.counts)}`);
  }
});

test("checksums: a card failing Luhn and an IBAN failing mod-97 are left alone", () => {
  assert.equal(luhnValid("4111111111111112"), false);
  assert.equal(ibanChecksumValid("DE89370400440532013001"), false);
  const text = "order 4111111111111112 and DE89370400440532013001 and 123-45-678 and 999-12-3456";
  assert.equal(redactAll(text).text, text);
});

test("a card followed by more numbers, and an IBAN followed by words, are still found", () => {
  assert.equal(redactAll("card 4111 1111 1111 1111 22 x").text, "card [REDACTED_CARD] 22 x");
  assert.equal(redactAll("to DE89 3704 0044 0532 0130 00 BY friday").text, "to [REDACTED_IBAN] BY friday");
});

test("a card running straight into neighbouring digit groups is redacted whole, whichever window passes Luhn", () => {
  const countDigits = (s: string) => s.replace(/\D/g, "").length;
  const cases: [string, string, RedactionCounts][] = [
    // Luhn-valid windows straddle the card on both sides ("1234567894111 1111", "1111 1111 123456789").
    ["123-45-6789 4111 1111 1111 1111 123-45-6789", "[REDACTED_SSN] [REDACTED_CARD] [REDACTED_SSN]", { us_ssn: 2, card: 1 }],
    ["123-45-6789 4111 1111 1111 1111 4111 1111 1111 1111 10.20.30.40", "[REDACTED_SSN] [REDACTED_CARD] [REDACTED_CARD] [REDACTED_IP]", { us_ssn: 1, card: 2, ipv4: 1 }],
    ["123-45-6789 4111 1111 1111 1111 4111 1111 1111 1111 4111 1111 1111 1111", "[REDACTED_SSN] [REDACTED_CARD] [REDACTED_CARD] [REDACTED_CARD]", { us_ssn: 1, card: 3 }],
  ];
  for (const [text, expected, counts] of cases) {
    const r = redactAll(text);
    assert.equal(r.text, expected, text);
    assert.deepEqual(r.counts, counts, text);
  }
  // Any neighbours, any grouping: not one of the card's digits survives.
  const cards = ["4111111111111111", "4111 1111 1111 1111", "5500-0000-0000-0004", "378282246310005", "6011 0009 9013 9424"];
  const neighbours = ["1", "12", "123", "1234", "98765", "123-45-6789", "7 7", "2 34 567", "4111 1111", "0000"];
  for (const c of cards) {
    for (const before of ["", ...neighbours]) {
      for (const after of ["", ...neighbours]) {
        const text = `x ${before}${before ? " " : ""}${c}${after ? " " : ""}${after} y`;
        const out = redactAll(text).text;
        assert.ok(countDigits(out) <= countDigits(before) + countDigits(after), `card digits survived in ${JSON.stringify(out)} from ${JSON.stringify(text)}`);
        assert.deepEqual(findPii(out, PII_CLASSES), [], out);
      }
    }
  }
});

test("the straddling windows are real: one starts inside the SSN before the card", () => {
  // Guards the test above: a detector keeping only one window per start could pick this one and leave "1111" in clear.
  const text = "123-45-6789 4111 1111 1111 1111 123-45-6789";
  const windows = findCards(text).map((s) => text.slice(s.start, s.end));
  assert.deepEqual(windows.sort(), ["4111 1111 1111 1111", "6789 4111 1111 1111"]);
});

test("values hidden inside an earlier match are still found: phones and IBANs from each start", () => {
  // A national number whose run of groups is longer than a phone number: each start is tried.
  assert.equal(redactAll("call 030 1234567 0151-23456789 now").text, "call [REDACTED_PHONE] [REDACTED_PHONE] now");
  // "XA77 DE89 3704 0044" passes mod-97 too (an unknown country, any length): the real IBAN starting inside it is still found.
  assert.equal(redactText("XA77 DE89 3704 0044 0532 0130 00 end", createRedactor(["iban"]), {}), "[REDACTED_IBAN] end");
});

test("only the tenant's classes are redacted", () => {
  const counts: RedactionCounts = {};
  const out = redactText("mail a@b.io from 10.0.0.1", createRedactor(["email"]), counts);
  assert.equal(out, "mail [REDACTED_EMAIL] from 10.0.0.1");
  assert.deepEqual(counts, { email: 1 });
  assert.equal(redactText("a@b.io", createRedactor([]), {}), "a@b.io");
});

test("three numbers in North American phone shape are a phone number", () => {
  assert.equal(redactAll("call 181 398 4304 now").text, "call [REDACTED_PHONE] now");
});

test("look-alikes stay: code, times, dates, versions, prices", () => {
  const text = "std::vector<int> at 12:30:45 on 2024-01-15, v1.2.3, costs 1,299.00 EUR, a::b, ID 12345, port 8080";
  assert.equal(redactAll(text).text, text);
});

// ---- properties ----

const digits = (n: number) => fc.array(fc.integer({ min: 0, max: 9 }), { minLength: n, maxLength: n }).map((a) => a.join(""));
const withLuhn = (prefix: string, len: number) =>
  digits(len - prefix.length - 1).map((body) => {
    const partial = prefix + body;
    for (let d = 0; d <= 9; d++) if (luhnValid(partial + d)) return partial + d;
    throw new Error("unreachable");
  });
const card = fc.oneof(withLuhn("4", 16), withLuhn("5", 16), withLuhn("37", 15), withLuhn("6", 19)).chain((c) =>
  fc.constantFrom(c, c.replace(/(\d{4})(?=\d)/g, "$1 "), c.replace(/(\d{4})(?=\d)/g, "$1-")),
);
const iban = fc.tuple(fc.constantFrom(["DE", 22], ["GB", 22], ["FR", 27], ["NL", 18], ["ES", 24]), fc.array(fc.constantFrom(..."0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZ"), { minLength: 30, maxLength: 30 }))
  .map(([[cc, len], chars]) => {
    const bban = chars.slice(0, (len as number) - 4).join("");
    for (let k = 2; k <= 98; k++) {
      const candidate = `${cc}${String(k).padStart(2, "0")}${bban}`;
      if (ibanChecksumValid(candidate)) return candidate;
    }
    throw new Error("unreachable");
  })
  .chain((i) => fc.constantFrom(i, i.replace(/(.{4})(?=.)/g, "$1 ")));
const ssn = fc.tuple(fc.integer({ min: 1, max: 899 }).filter((a) => a !== 666), fc.integer({ min: 1, max: 99 }), fc.integer({ min: 1, max: 9999 }))
  .map(([a, g, s]) => `${String(a).padStart(3, "0")}-${String(g).padStart(2, "0")}-${String(s).padStart(4, "0")}`);
const phone = fc.oneof(
  fc.tuple(digits(2), digits(8)).map(([a, b]) => `+49 ${a} ${b}`),
  fc.tuple(digits(3), digits(3), digits(4)).map(([a, b, c]) => `+1 (${a}) ${b}-${c}`),
  fc.tuple(digits(3), digits(3), digits(4)).map(([a, b, c]) => `(${a}) ${b}-${c}`),
  fc.tuple(digits(3), digits(3), digits(4)).map(([a, b, c]) => `${a}-${b}-${c}`),
  fc.tuple(digits(2), digits(7)).map(([a, b]) => `0${a} ${b}`),
  fc.tuple(digits(9)).map(([a]) => `07${a}`),
);
const ipv6 = fc.ipV6().filter((s) => findPii(s, ["ipv6"]).length === 1 && findPii(s, ["ipv6"])[0]!.end === s.length);
const email = fc.emailAddress().filter((e) => findPii(e, ["email"]).length === 1);
const pii = fc.oneof(email, phone, iban, card, ssn, fc.ipV4(), ipv6);

/**
 * Words that cannot hold a value: letters, punctuation, non-ASCII, short numbers with a unit.
 * A bare number is no good here: three in a row ("181 398 4304") are a phone number.
 */
const word = fc.oneof(
  fc.string({ unit: fc.constantFrom(..."abcdefghijklmnopqrstuvwxyzÄöüßéèçñ漢字😀"), minLength: 1, maxLength: 10 }),
  fc.integer({ min: 0, max: 9999 }).map((n) => `${n}kg`),
  fc.constantFrom("-", ",", ".", "!", "?", "(", ")", "'", '"', "—", "%", "€5", "#", "/", "\n", "\t"),
);
const sep = fc.constantFrom(" ", "\n", ", ", "; ", " (", ") ", ": ", " - ");
const clean = fc.array(word, { maxLength: 30 }).chain((ws) => fc.array(sep, { minLength: ws.length, maxLength: ws.length }).map((ss) => ws.map((w, i) => w + ss[i]).join("")));

test("property: text without PII passes byte-identical", () => {
  fc.assert(fc.property(clean, (text) => {
    assert.equal(redactAll(text).text, text);
  }), { numRuns: 500 });
});

test("property: redacted output never contains a valid instance, nor any value that was there", () => {
  fc.assert(fc.property(fc.array(fc.tuple(clean, sep, pii, sep), { minLength: 1, maxLength: 5 }), clean, (parts, tail) => {
    const text = parts.map(([c, s1, p, s2]) => c + s1 + p + s2).join("") + tail;
    const { text: out, counts } = redactAll(text);
    assert.deepEqual(findPii(out, PII_CLASSES), [], `found PII in ${JSON.stringify(out)}`);
    for (const [, , p] of parts) assert.ok(!out.includes(p), `${JSON.stringify(p)} survived in ${JSON.stringify(out)}`);
    const total = Object.values(counts).reduce((a, b) => a + (b ?? 0), 0);
    assert.ok(total >= parts.length, `${total} counted for ${parts.length} values`);
  }), { numRuns: 500 });
});

test("property: any text at all comes out without a valid instance", () => {
  fc.assert(fc.property(fc.string({ unit: fc.constantFrom(..."0123456789 -.:@()+abcdefABCDEFDEGB"), maxLength: 120 }), (text) => {
    assert.deepEqual(findPii(redactAll(text).text, PII_CLASSES), []);
  }), { numRuns: 1000 });
});

test("property: the census prefilter never skips a class that would have matched", () => {
  const everything = (text: string) => PII_CLASSES.flatMap((cls) => DETECTORS[cls](text)).map((s) => `${s.cls}:${s.start}-${s.end}`).sort();
  const text = fc.oneof(
    fc.array(fc.tuple(clean, sep, pii, sep), { minLength: 1, maxLength: 4 }).map((ps) => ps.map(([c, s1, p, s2]) => c + s1 + p + s2).join("")),
    fc.string({ unit: fc.constantFrom(..."0123456789 -.:@()+abcdefABCDEFDEGB"), maxLength: 80 }),
  );
  fc.assert(fc.property(text, (t) => {
    assert.deepEqual(findAllCandidates(t, PII_CLASSES).map((s) => `${s.cls}:${s.start}-${s.end}`).sort(), everything(t));
  }), { numRuns: 1000 });
});

/**
 * The spine end to end: `enclave up` (real Redis, scheduler, two agents with
 * simulated GPUs and engines, gateway), driven with the official `openai` SDK.
 */
import assert from "node:assert/strict";
import { spawnSync } from "node:child_process";
import { copyFileSync, readdirSync, readFileSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { after, before, describe, test } from "node:test";
import OpenAI from "openai";
import { decodeAuditLine, encodeFrame } from "@enclave/audit";
import { AuditRecord } from "@enclave/contracts";
import { waitFor } from "@enclave/runtime";
import { CLI, isAlive, pidsMatching, startUp, type RunningStack } from "../support/stack.js";

const MODEL = "meta-llama/Llama-3.1-8B-Instruct";
const EU = "eu-central-1";
const US = "us-east-1";

let stack: RunningStack;
let eu: OpenAI;
let us: OpenAI;

function client(key: string): OpenAI {
  return new OpenAI({ baseURL: `${stack.gateway}/v1`, apiKey: key, maxRetries: 0, timeout: 20000 });
}

/** The segment files of one chain (a region) of the gateway's audit spool, in order. */
function segments(region: string): string[] {
  const dir = join(stack.auditLog, region);
  return readdirSync(dir).filter((n) => n.endsWith(".seg")).sort().map((n) => join(dir, n));
}

/** Every record in the gateway's audit spool (one chain per region; checkpoints left out). */
function auditRecords(): AuditRecord[] {
  const chains = readdirSync(stack.auditLog, { withFileTypes: true }).filter((d) => d.isDirectory()).map((d) => d.name);
  return chains.flatMap((region) =>
    segments(region).flatMap((file) =>
      readFileSync(file, "utf8").split("\n").flatMap((line) => {
        const d = decodeAuditLine(line);
        return d.kind === "entry" && (d.value as { kind?: unknown }).kind !== "checkpoint" ? [AuditRecord.parse(d.value)] : [];
      }),
    ),
  );
}

async function chat(c: OpenAI, content = "Say hello") {
  return c.chat.completions.create({ model: MODEL, messages: [{ role: "user", content }] }).withResponse();
}

describe("the spine, as `enclave up` runs it", () => {
  before(async () => {
    stack = await startUp();
    console.log(`# enclave up served after ${stack.startedInMs} ms`);
    eu = client(stack.keys.eu);
    us = client(stack.keys.us);
  });
  after(async () => {
    await stack?.stop();
  });

  test("a non-streaming completion returns the engine's content and usage", async () => {
    const { data, response } = await chat(eu, "What is the capital of France?");
    const region = response.headers.get("x-enclave-region");
    const backend = response.headers.get("x-enclave-backend");
    assert.equal(region, EU);
    // The same request straight to the engine that served it: the gateway changed nothing.
    const entry = (await stack.routes()).entries.find((e) => e.backendId === backend);
    assert.ok(entry, `backend ${backend} is in the route table`);
    const direct = (await (
      await fetch(`${entry.url}/v1/chat/completions`, {
        method: "POST",
        headers: { "content-type": "application/json" },
        body: JSON.stringify({ model: MODEL, messages: [{ role: "user", content: "What is the capital of France?" }] }),
      })
    ).json()) as { choices: { message: { content: string } }[]; usage: { prompt_tokens: number; completion_tokens: number } };
    assert.equal(data.choices[0]?.message.content, direct.choices[0]?.message.content);
    assert.ok((data.choices[0]?.message.content ?? "").length > 0);
    assert.deepEqual(
      { prompt: data.usage?.prompt_tokens, completion: data.usage?.completion_tokens },
      { prompt: direct.usage.prompt_tokens, completion: direct.usage.completion_tokens },
    );
    assert.ok((data.usage?.completion_tokens ?? 0) > 0);
  });

  test("a streaming completion arrives in chunks, with the usage chunk when asked", async () => {
    const { data: full } = await chat(us, "Stream me something");
    const stream = await us.chat.completions.create({
      model: MODEL,
      messages: [{ role: "user", content: "Stream me something" }],
      stream: true,
      stream_options: { include_usage: true },
    });
    let text = "";
    let chunks = 0;
    let usage: OpenAI.CompletionUsage | undefined | null;
    for await (const chunk of stream) {
      chunks++;
      text += chunk.choices[0]?.delta?.content ?? "";
      if (chunk.usage) {
        usage = chunk.usage;
        assert.deepEqual(chunk.choices, []);
      }
    }
    assert.ok(chunks > 2, `got ${chunks} chunks`);
    assert.equal(text, full.choices[0]?.message.content);
    assert.equal(usage?.completion_tokens, full.usage?.completion_tokens);
    assert.equal(usage?.prompt_tokens, full.usage?.prompt_tokens);
  });

  test("the EU key is always served in eu-central-1 and the US key in us-east-1", async () => {
    const seen: { key: "eu" | "us"; region: string | null; backend: string | null; id: string }[] = [];
    await Promise.all(
      Array.from({ length: 24 }, async (_, i) => {
        const key = i % 2 === 0 ? "eu" : "us";
        const { data, response } = await chat(key === "eu" ? eu : us, `request ${i}`);
        seen.push({ key, region: response.headers.get("x-enclave-region"), backend: response.headers.get("x-enclave-backend"), id: data.id });
      }),
    );
    for (const s of seen) assert.equal(s.region, s.key === "eu" ? EU : US, JSON.stringify(s));
    // Both replicas of each region took part: the choice is not stuck on one backend.
    assert.equal(new Set(seen.filter((s) => s.key === "eu").map((s) => s.backend)).size, 2);
    assert.equal(new Set(seen.filter((s) => s.key === "us").map((s) => s.backend)).size, 2);
    // And the audit log says the same, for every routed record of each tenant.
    const records = await waitFor(() => {
      const rs = auditRecords().filter((r) => r.decision === "routed");
      return rs.length >= seen.length ? rs : undefined;
    }, { timeoutMs: 5000, what: "audit records" });
    for (const r of records) {
      if (r.tenant === "demo-eu") assert.equal(r.region, EU);
      if (r.tenant === "demo-us") assert.equal(r.region, US);
      assert.ok(r.backendId?.startsWith(r.tenant === "demo-eu" ? "eu-node-1/" : "us-node-1/"), r.backendId ?? "");
    }
  });

  test("with both EU engines killed, EU fails closed while US keeps working, then EU recovers", async () => {
    const euEntries = (await stack.routes()).entries.filter((e) => e.region === EU);
    assert.equal(euEntries.length, 2);
    const pids = euEntries.flatMap((e) => pidsMatching("engine-main", `--port ${new URL(e.url).port}`));
    assert.equal(pids.length, 2, `found EU engine pids ${pids.join(",")}`);
    for (const pid of pids) process.kill(pid, "SIGKILL");
    await waitFor(() => pids.every((p) => !isAlive(p)), { timeoutMs: 5000, what: "EU engines to die" });

    const euOutcomes: string[] = [];
    // Until the agent restarts them, every EU request is denied — never served elsewhere.
    const denial = await waitFor(
      async () => {
        try {
          const { response } = await chat(eu, "are you there?");
          const region = response.headers.get("x-enclave-region");
          euOutcomes.push(`200 ${region}`);
          assert.equal(region, EU, "an EU request must never be served outside the EU");
          return undefined;
        } catch (e) {
          if (e instanceof assert.AssertionError) throw e;
          assert.ok(e instanceof OpenAI.APIError, String(e));
          euOutcomes.push(`${e.status} ${e.code}`);
          return e;
        }
      },
      { timeoutMs: 10000, intervalMs: 20, what: "an EU denial" },
    );
    assert.equal(denial.status, 503);
    assert.equal(denial.code, "no_compliant_backend");
    assert.match(denial.message, /no backend/i);

    // US traffic is untouched meanwhile.
    const { response: usResponse } = await chat(us, "still fine?");
    assert.equal(usResponse.headers.get("x-enclave-region"), US);

    // The agent restarts the engines with backoff; EU traffic works again, in the EU.
    const back = await waitFor(
      async () => {
        try {
          const { response } = await chat(eu, "back?");
          return response.headers.get("x-enclave-region");
        } catch (e) {
          assert.ok(e instanceof OpenAI.APIError && e.status === 503, String(e));
          return undefined;
        }
      },
      { timeoutMs: 45000, intervalMs: 200, what: "EU to recover" },
    );
    assert.equal(back, EU);
    await waitFor(async () => (await stack.routes()).entries.filter((e) => e.region === EU).length === 2, { timeoutMs: 45000, what: "both EU engines back" });

    // The audit log holds the denials with the EU allowed set and no chosen backend.
    const denied = auditRecords().filter((r) => r.tenant === "demo-eu" && r.status === 503);
    assert.ok(denied.length > 0);
    for (const r of denied) {
      assert.equal(r.decision, "denied");
      assert.deepEqual(r.allowedRegions, [EU]);
      assert.equal(r.region, null);
      assert.equal(r.backendId, null);
    }
    for (const r of auditRecords().filter((r) => r.tenant === "demo-eu" && r.region !== null)) assert.equal(r.region, EU);
  });

  test("bad key, malformed JSON and unknown model get OpenAI-style errors the SDK surfaces", async () => {
    await assert.rejects(client("sk-enclave-not-a-key").chat.completions.create({ model: MODEL, messages: [{ role: "user", content: "hi" }] }), (e: unknown) => {
      assert.ok(e instanceof OpenAI.AuthenticationError, String(e));
      assert.equal(e.status, 401);
      assert.equal(e.code, "invalid_api_key");
      return true;
    });
    await assert.rejects(eu.chat.completions.create({ model: "no-such-model", messages: [{ role: "user", content: "hi" }] }), (e: unknown) => {
      assert.ok(e instanceof OpenAI.NotFoundError, String(e));
      assert.equal(e.status, 404);
      assert.equal(e.code, "model_not_found");
      return true;
    });
    // The SDK never sends broken JSON, so this one goes by hand; the body is what the SDK would parse.
    const r = await fetch(`${stack.gateway}/v1/chat/completions`, {
      method: "POST",
      headers: { authorization: `Bearer ${stack.keys.eu}`, "content-type": "application/json" },
      body: '{"model": "x", "messages": [',
    });
    assert.equal(r.status, 400);
    const body = (await r.json()) as { error: { message: string; type: string; code: string | null } };
    assert.equal(body.error.type, "invalid_request_error");
    assert.ok(body.error.message.length > 0);
    // A body the SDK sends but the gateway refuses surfaces as BadRequestError.
    await assert.rejects(
      eu.chat.completions.create({ model: MODEL, messages: "not a list" as unknown as [] }),
      (e: unknown) => e instanceof OpenAI.BadRequestError && e.status === 400,
    );
  });

  test("/v1/models lists only what the caller may use", async () => {
    const models = await eu.models.list();
    assert.deepEqual(models.data.map((m) => m.id), [MODEL]);
    await assert.rejects(client("nope").models.list(), (e: unknown) => e instanceof OpenAI.AuthenticationError);
  });

  test("the audit chain verifies, and altering one record breaks verification", async () => {
    await chat(eu, "one more for the record");
    const ok = spawnSync(process.execPath, [CLI, "audit", "verify", stack.auditLog], { encoding: "utf8" });
    assert.equal(ok.status, 0, ok.stdout + ok.stderr);
    assert.match(ok.stdout, /ok, \d+ records/);

    // A copy of the EU chain's first segment, one record altered and its frame checksum
    // recomputed (a deliberate forgery, not disk damage): the hash chain still names the line.
    const copy = join(stack.stateDir, "audit-tampered.seg");
    copyFileSync(segments(EU)[0]!, copy);
    const lines = readFileSync(copy, "utf8").split("\n").filter(Boolean);
    const recordLines = lines.flatMap((l, i) => {
      const d = decodeAuditLine(l);
      return d.kind === "entry" && (d.value as { kind?: unknown }).kind !== "checkpoint" ? [i] : [];
    });
    assert.ok(recordLines.length >= 3);
    const victim = recordLines[Math.floor(recordLines.length / 2)]!;
    const decoded = decodeAuditLine(lines[victim]!);
    assert.equal(decoded.kind, "entry");
    const rec = (decoded as { value: AuditRecord }).value;
    rec.region = rec.region === US ? EU : US; // the kind of edit that would hide a residency breach
    lines[victim] = encodeFrame(JSON.stringify(rec)).toString("utf8").trimEnd();
    writeFileSync(copy, lines.join("\n") + "\n");
    const bad = spawnSync(process.execPath, [CLI, "audit", "verify", copy], { encoding: "utf8" });
    assert.equal(bad.status, 1, bad.stdout + bad.stderr);
    assert.match(bad.stdout, new RegExp(`line ${victim + 1}\\b`));
  });
});

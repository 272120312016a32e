import { createServer, type IncomingHttpHeaders, type ServerResponse } from "node:http";
import type { AddressInfo } from "node:net";

/**
 * json: a chat.completion with usage; sse: a stream that pauses after its first
 * chunk until `release()` when `holdAfterFirst` is set; status500: an error;
 * break: headers and one chunk, then the connection is cut; breakJson: the same for a
 * JSON body of announced length; hang: never answers;
 * echo: a chat.completion whose content is the last message's; sseEcho: the same
 * streamed three characters per chunk; embedding: an embeddings list.
 */
export type FakeEngineMode = "json" | "sse" | "status500" | "break" | "breakJson" | "hang" | "echo" | "sseEcho" | "embedding";

export interface SeenRequest {
  method: string;
  url: string;
  headers: IncomingHttpHeaders;
  body: Buffer;
}

export interface FakeEngine {
  readonly name: string;
  readonly url: string;
  readonly requests: SeenRequest[];
  mode: FakeEngineMode;
  /** For sse: wait after the first chunk until release() is called. */
  holdAfterFirst: boolean;
  release(): void;
  close(): Promise<void>;
}

export const FAKE_USAGE = { prompt_tokens: 7, completion_tokens: 3, total_tokens: 10 };

export async function startFakeEngine(name: string, mode: FakeEngineMode = "json"): Promise<FakeEngine> {
  let releaseHold: () => void = () => undefined;
  let hold = new Promise<void>((r) => (releaseHold = r));
  const requests: SeenRequest[] = [];
  const server = createServer((req, res) => {
    const chunks: Buffer[] = [];
    req.on("data", (c: Buffer) => chunks.push(c));
    req.on("end", () => {
      requests.push({ method: req.method ?? "", url: req.url ?? "", headers: req.headers, body: Buffer.concat(chunks) });
      void answer(engine, res, hold, requests.at(-1)!.body);
    });
  });
  await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
  const { port } = server.address() as AddressInfo;
  const engine: FakeEngine = {
    name,
    url: `http://127.0.0.1:${port}`,
    requests,
    mode,
    holdAfterFirst: false,
    release() {
      releaseHold();
      hold = new Promise<void>((r) => (releaseHold = r));
    },
    close() {
      releaseHold();
      server.closeAllConnections();
      return new Promise((resolve) => server.close(() => resolve()));
    },
  };
  return engine;
}

export function sseChunk(name: string, i: number, content: string): string {
  return `data: ${JSON.stringify({ id: `chatcmpl-${name}`, object: "chat.completion.chunk", choices: [{ index: 0, delta: { content }, finish_reason: null }], n: i })}\n\n`;
}

function lastContent(body: Buffer): string {
  try {
    const b = JSON.parse(body.toString()) as { messages?: { content?: unknown }[] };
    const c = b.messages?.at(-1)?.content;
    return typeof c === "string" ? c : JSON.stringify(c ?? null);
  } catch {
    return "";
  }
}

async function answer(engine: FakeEngine, res: ServerResponse, hold: Promise<void>, body: Buffer): Promise<void> {
  switch (engine.mode) {
    case "echo": {
      res.writeHead(200, { "content-type": "application/json" });
      res.end(JSON.stringify({ id: "e", object: "chat.completion", choices: [{ index: 0, message: { role: "assistant", content: lastContent(body) }, finish_reason: "stop" }], usage: FAKE_USAGE }));
      return;
    }
    case "sseEcho": {
      res.writeHead(200, { "content-type": "text/event-stream" });
      const text = lastContent(body);
      for (let i = 0; i < text.length; i += 3) res.write(sseChunk(engine.name, i, text.slice(i, i + 3)));
      res.write(`data: ${JSON.stringify({ id: `chatcmpl-${engine.name}`, object: "chat.completion.chunk", choices: [{ index: 0, delta: {}, finish_reason: "stop" }] })}\n\n`);
      res.end("data: [DONE]\n\n");
      return;
    }
    case "embedding": {
      res.writeHead(200, { "content-type": "application/json" });
      res.end(JSON.stringify({ object: "list", data: [{ object: "embedding", index: 0, embedding: [0.1, 0.2] }], model: "m", usage: { prompt_tokens: 2, total_tokens: 2 } }));
      return;
    }
    case "json": {
      const body = JSON.stringify({
        id: `chatcmpl-${engine.name}`, object: "chat.completion", model: "m", engine: engine.name,
        choices: [{ index: 0, message: { role: "assistant", content: `hello from ${engine.name}` }, finish_reason: "stop" }],
        usage: FAKE_USAGE,
      });
      res.writeHead(200, { "content-type": "application/json", "x-engine": engine.name, "set-cookie": "engine=1" });
      res.end(body);
      return;
    }
    case "status500":
      res.writeHead(500, { "content-type": "application/json" });
      res.end(JSON.stringify({ object: "error", message: "engine exploded", type: "InternalServerError", code: 500 }));
      return;
    case "hang":
      return;
    case "break":
      res.writeHead(200, { "content-type": "text/event-stream" });
      res.write(sseChunk(engine.name, 0, "partial"));
      setImmediate(() => res.socket?.destroy());
      return;
    case "breakJson":
      res.writeHead(200, { "content-type": "application/json", "content-length": "1000" });
      res.write('{"id":"chatcmpl-x","choices":[{"message":{"content":"half an ans');
      setImmediate(() => res.socket?.destroy());
      return;
    case "sse": {
      res.writeHead(200, { "content-type": "text/event-stream", "cache-control": "no-cache" });
      res.write(sseChunk(engine.name, 0, "first"));
      if (engine.holdAfterFirst) await hold;
      res.write(sseChunk(engine.name, 1, " second"));
      res.write(`data: ${JSON.stringify({ id: `chatcmpl-${engine.name}`, object: "chat.completion.chunk", choices: [], usage: FAKE_USAGE })}\n\n`);
      res.end("data: [DONE]\n\n");
      return;
    }
  }
}

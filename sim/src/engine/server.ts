import { createServer, type IncomingMessage, type ServerResponse } from "node:http";
import { randomUUID } from "node:crypto";
import { performance } from "node:perf_hooks";
import { ModelName } from "@enclave/contracts";
import { z } from "zod";
import { badRequest, describeIssues, errorBody, type EngineError } from "./errors.js";
import { applyFaults, EngineFaultsPatch, NO_FAULTS, type EngineFaults } from "./faults.js";
import { serveGeneration, type GenerationContext } from "./generation.js";
import { parseGenerationRequest, type GenerationKind } from "./generation-request.js";
import { readBody, sendEmpty, sendJson } from "./http-io.js";
import { createEngineMetrics } from "./metrics.js";
import { modelList } from "./responses.js";
import { SequenceSlots } from "./slots.js";

export const EngineSimOptions = z.strictObject({
  host: z.string().min(1).default("127.0.0.1"),
  /** 0: any free port. */
  port: z.number().int().min(0).max(65535).default(0),
  model: ModelName,
  /** Time to first token once a request is scheduled. */
  ttftMs: z.number().min(0).max(600_000).default(20),
  /** Inter-token latency. */
  itlMs: z.number().min(0).max(60_000).default(5),
  /** Sequences generated at once; the rest wait. */
  maxConcurrent: z.number().int().min(1).max(100_000).default(64),
  /** Requests that may wait for a slot; beyond, 503. */
  maxWaiting: z.number().int().min(0).max(1_000_000).default(10_000),
  /** Tokens the model says before stopping by itself, when max_tokens does not cut it shorter. */
  outputTokens: z.number().int().min(1).max(1_000_000).default(16),
  maxModelLen: z.number().int().min(1).max(100_000_000).default(8192),
  maxBodyBytes: z.number().int().min(1).max(1 << 30).default(8 * 1024 * 1024),
  faults: EngineFaultsPatch.default({}),
});
export type EngineSimOptions = z.input<typeof EngineSimOptions>;

export interface EngineSim {
  /** `http://host:port`. */
  url: string;
  port: number;
  setFaults(f: Partial<EngineFaults>): void;
  faults(): EngineFaults;
  close(): Promise<void>;
}

/**
 * An engine that speaks vLLM's OpenAI-compatible HTTP API without a GPU: the same
 * endpoints, bodies, stream framing, errors and metric names, with configurable
 * latency, a concurrency limit and injectable faults. Throws on invalid options.
 */
export async function startEngineSim(options: EngineSimOptions): Promise<EngineSim> {
  const parsed = EngineSimOptions.safeParse(options);
  if (!parsed.success) throw new TypeError(`engine simulator options: ${describeIssues(parsed.error)}`);
  const opts = parsed.data;
  let faults = applyFaults(NO_FAULTS, opts.faults);
  const created = Math.floor(Date.now() / 1000);
  const permissionId = `modelperm-${randomUUID().replaceAll("-", "")}`;
  const slots = new SequenceSlots(opts.maxConcurrent, opts.maxWaiting);
  const metrics = createEngineMetrics(opts.model, slots);
  const closing = new AbortController();
  const ctx: GenerationContext = { model: opts.model, ttftMs: opts.ttftMs, itlMs: opts.itlMs, slots, metrics, closing: closing.signal };
  const limits = { outputTokens: opts.outputTokens, maxModelLen: opts.maxModelLen };

  const generation = async (kind: GenerationKind, req: IncomingMessage, res: ServerResponse): Promise<void> => {
    const arrivedAt = performance.now();
    const body = await readBody(req, opts.maxBodyBytes);
    if (!body.ok) return sendError(res, { status: 413, type: "BadRequestError", message: `The request body exceeds ${opts.maxBodyBytes} bytes.` });
    const r = parseGenerationRequest(kind, body.body.toString("utf8"), opts.model, limits);
    if (!r.ok) return sendError(res, r.error);
    await serveGeneration(ctx, kind, req, res, r.plan, faults, arrivedAt);
  };

  const routes: Record<string, Partial<Record<string, (req: IncomingMessage, res: ServerResponse) => Promise<void> | void>>> = {
    "/health": { GET: (_req, res) => sendEmpty(res, faults.health === "ok" ? 200 : 503) },
    "/v1/models": { GET: (_req, res) => sendJson(res, 200, modelList(opts.model, created, opts.maxModelLen, permissionId)) },
    "/metrics": {
      GET: async (_req, res) => {
        const text = await metrics.registry.metrics();
        res.writeHead(200, { "content-type": metrics.registry.contentType, "content-length": Buffer.byteLength(text) });
        res.end(text);
      },
    },
    "/v1/chat/completions": { POST: (req, res) => generation("chat", req, res) },
    "/v1/completions": { POST: (req, res) => generation("completion", req, res) },
    "/sim/faults": {
      GET: (_req, res) => sendJson(res, 200, faults),
      POST: async (req, res) => {
        const body = await readBody(req, 64 * 1024);
        if (!body.ok) return sendError(res, { status: 413, type: "BadRequestError", message: "The request body is too large." });
        let json: unknown;
        try {
          json = JSON.parse(body.body.toString("utf8"));
        } catch {
          return sendError(res, badRequest("The request body is not valid JSON."));
        }
        const patch = EngineFaultsPatch.safeParse(json);
        if (!patch.success) return sendError(res, badRequest(describeIssues(patch.error)));
        faults = applyFaults(faults, patch.data);
        sendJson(res, 200, faults);
      },
    },
  };

  const server = createServer({ requestTimeout: 60_000, headersTimeout: 30_000, keepAliveTimeout: 5_000 }, (req, res) => {
    const path = (req.url ?? "/").split("?", 1)[0] ?? "/";
    const methods = routes[path];
    // FastAPI's answers for unknown paths and methods, which is what vLLM's clients see.
    if (!methods) return sendJson(res, 404, { detail: "Not Found" });
    const handler = methods[req.method ?? ""];
    if (!handler) {
      res.setHeader("allow", Object.keys(methods).join(", "));
      return sendJson(res, 405, { detail: "Method Not Allowed" });
    }
    Promise.resolve()
      .then(() => handler(req, res))
      .catch(() => {
        // A client that left mid-body, or a bug: never crash the engine over one request.
        if (!res.headersSent && !res.destroyed) sendError(res, { status: 500, type: "InternalServerError", message: "Internal error in the engine simulator." });
        else res.destroy();
      });
  });

  await new Promise<void>((resolve, reject) => {
    server.once("error", reject);
    server.listen({ port: opts.port, host: opts.host }, () => {
      server.off("error", reject);
      resolve();
    });
  });
  const address = server.address();
  const port = typeof address === "object" && address ? address.port : opts.port;
  const hostInUrl = opts.host.includes(":") ? `[${opts.host}]` : opts.host;

  let closed: Promise<void> | undefined;
  return {
    url: `http://${hostInUrl}:${port}`,
    port,
    setFaults(f) {
      const patch = EngineFaultsPatch.safeParse(f);
      if (!patch.success) throw new TypeError(`engine faults: ${describeIssues(patch.error)}`);
      faults = applyFaults(faults, patch.data);
    },
    faults: () => faults,
    close() {
      closed ??= new Promise<void>((resolve) => {
        closing.abort();
        server.close(() => resolve());
        // Hung and streaming requests would hold close() open forever otherwise.
        server.closeAllConnections();
      });
      return closed;
    },
  };
}

function sendError(res: ServerResponse, e: EngineError): void {
  sendJson(res, e.status, errorBody(e));
}

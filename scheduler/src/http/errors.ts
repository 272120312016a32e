import type { FastifyError, FastifyInstance, FastifyReply } from "fastify";

export type ErrorCode =
  | "unauthorized"
  | "forbidden"
  | "invalid_request"
  | "not_found"
  | "conflict"
  | "payload_too_large"
  | "unsupported_media_type"
  | "too_many_watchers"
  | "unavailable"
  | "internal";

/** Every error the scheduler answers: `{ error: { message, code } }`. Messages never carry credentials. */
export function sendError(reply: FastifyReply, status: number, code: ErrorCode, message: string): FastifyReply {
  return reply.code(status).send({ error: { message, code } });
}

const CODE_BY_STATUS: Record<number, ErrorCode> = {
  400: "invalid_request",
  401: "unauthorized",
  403: "forbidden",
  404: "not_found",
  409: "conflict",
  413: "payload_too_large",
  415: "unsupported_media_type",
  503: "unavailable",
};

/** Framework errors (bad JSON, body too large, unknown route) in the same shape; internals stay in the log. */
export function registerErrorHandlers(app: FastifyInstance): void {
  app.setNotFoundHandler((req, reply) => sendError(reply, 404, "not_found", `no route ${req.method} ${req.url.split("?")[0]}`));
  app.setErrorHandler((err: FastifyError, req, reply) => {
    const status = err.statusCode ?? 500;
    if (status >= 400 && status < 500) return sendError(reply, status, CODE_BY_STATUS[status] ?? "invalid_request", err.message);
    req.log.error({ err, url: req.url.split("?")[0] }, "request failed");
    return sendError(reply, 500, "internal", "internal error");
  });
}

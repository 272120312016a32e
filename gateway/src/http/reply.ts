import type { ServerResponse } from "node:http";
import { openAiErrorBody, type GatewayError } from "../errors.js";

const JSON_TYPE = "application/json; charset=utf-8";

/** A whole JSON answer in one write (headers and body together). */
export function sendJson(res: ServerResponse, status: number, body: string, headers?: Record<string, string>): void {
  if (res.headersSent || res.destroyed) {
    res.destroy();
    return;
  }
  res.writeHead(status, { ...headers, "content-type": JSON_TYPE, "content-length": String(Buffer.byteLength(body)) });
  res.end(body);
}

/** The gateway's own error answer in the OpenAI shape. */
export function sendError(res: ServerResponse, e: GatewayError, headers?: Record<string, string>): void {
  sendJson(res, e.status, JSON.stringify(openAiErrorBody(e)), headers);
}

import type { z } from "zod";

/** An error answer in vLLM's shape (`ErrorResponse` of its OpenAI server). */
export interface EngineError {
  status: number;
  type: string;
  message: string;
}

export function badRequest(message: string): EngineError {
  return { status: 400, type: "BadRequestError", message };
}

export function modelNotFound(model: string): EngineError {
  return { status: 404, type: "NotFoundError", message: `The model \`${model}\` does not exist.` };
}

export function errorBody(e: EngineError): { object: "error"; message: string; type: string; param: null; code: number } {
  return { object: "error", message: e.message, type: e.type, param: null, code: e.status };
}

/** Names where and what, never the offending value: request bodies carry prompts. */
export function describeIssues(error: z.ZodError): string {
  return error.issues
    .slice(0, 5)
    .map((i) => `${i.path.length ? i.path.join(".") : "body"}: ${i.message}`)
    .join("; ");
}

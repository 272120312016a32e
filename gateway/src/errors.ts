/**
 * Every answer the gateway gives on its own behalf, in the OpenAI error shape
 * (`{"error":{"message","type","param","code"}}`) so OpenAI SDKs surface it.
 * Messages never carry secrets, prompt content, or what exists beyond the caller's reach.
 */
export interface GatewayError {
  status: number;
  type: "invalid_request_error" | "permission_error" | "service_unavailable" | "server_error" | "rate_limit_error";
  code: string;
  message: string;
  param: string | null;
  /** For the audit record and logs only, never sent to the client. */
  detail?: string;
}

export interface OpenAiErrorBody {
  error: { message: string; type: string; param: string | null; code: string };
}

export function openAiErrorBody(e: GatewayError): OpenAiErrorBody {
  return { error: { message: e.message, type: e.type, param: e.param, code: e.code } };
}

/** What the audit record's `reason` says: the code, and the detail when there is one. */
export function auditReason(e: GatewayError): string {
  return e.detail ? `${e.code}: ${e.detail}` : e.code;
}

export type StepResult<T> = { ok: true; value: T } | { ok: false; error: GatewayError };

export function missingApiKey(): GatewayError {
  return {
    status: 401, type: "invalid_request_error", code: "invalid_api_key", param: null,
    message: "You didn't provide an API key. Send it in the Authorization header as 'Bearer <key>'.",
  };
}

export function invalidApiKey(): GatewayError {
  return { status: 401, type: "invalid_request_error", code: "invalid_api_key", param: null, message: "Incorrect API key provided." };
}

export function invalidJson(detail?: string): GatewayError {
  return {
    status: 400, type: "invalid_request_error", code: "invalid_json", param: null,
    message: "We could not parse the JSON body of your request. The body must be a JSON object.",
    ...(detail ? { detail } : {}),
  };
}

export function invalidBody(message: string, param: string | null): GatewayError {
  return { status: 400, type: "invalid_request_error", code: "invalid_body", param, message };
}

export function requestTooLarge(limitBytes: number): GatewayError {
  return {
    status: 413, type: "invalid_request_error", code: "request_too_large", param: null,
    message: `The request body is larger than the limit of ${limitBytes} bytes.`,
  };
}

/** The same answer for a model that does not exist and one the caller may not use. */
export function modelNotFound(model: string): GatewayError {
  return {
    status: 404, type: "invalid_request_error", code: "model_not_found", param: "model",
    message: `The model '${model}' does not exist or you do not have access to it.`,
  };
}

export function regionNotAllowed(message: string): GatewayError {
  return { status: 403, type: "permission_error", code: "region_not_allowed", param: null, message };
}

export function noCompliantBackend(model: string, detail?: string): GatewayError {
  return {
    status: 503, type: "service_unavailable", code: "no_compliant_backend", param: null,
    message: `no backend in the allowed regions can serve model ${model}`,
    ...(detail ? { detail } : {}),
  };
}

/** 429: this replica is at capacity, or the tenant's rate is used up (the caller sets Retry-After). */
export function rateLimited(message: string): GatewayError {
  return { status: 429, type: "rate_limit_error", code: "rate_limit_exceeded", param: null, message };
}

export function notReady(): GatewayError {
  return {
    status: 503, type: "service_unavailable", code: "not_ready", param: null,
    message: "The gateway has not received a route table yet. Retry shortly.",
  };
}

export function unknownUrl(method: string, path: string): GatewayError {
  return {
    status: 404, type: "invalid_request_error", code: "unknown_url", param: null,
    message: `Unknown request URL: ${method} ${path.slice(0, 200)}.`,
  };
}

export function internalError(detail?: string): GatewayError {
  return {
    status: 500, type: "server_error", code: "internal_error", param: null,
    message: "The gateway could not complete the request.",
    ...(detail ? { detail } : {}),
  };
}

import { pino, type Logger } from "pino";

export type { Logger };

/** JSON logs; credentials are redacted wherever they could appear. */
export function createLogger(name: string, level: string = "info"): Logger {
  return pino({
    name,
    level,
    redact: {
      paths: ["req.headers.authorization", "headers.authorization", "authorization", "token", "apiKey", "password"],
      censor: "[redacted]",
    },
  });
}

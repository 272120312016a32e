/** The part of a pino logger the audit library uses; pass the process's logger. */
export interface AuditLogger {
  info(obj: object, msg: string): void;
  warn(obj: object, msg: string): void;
  error(obj: object, msg: string): void;
}

export const silentLogger: AuditLogger = { info() {}, warn() {}, error() {} };

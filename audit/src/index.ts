export { canonicalJson } from "./canonical-json.js";
export { recordHash } from "./record-hash.js";
export { AuditLog } from "./audit-log.js";
export { verifyAuditLines, verifyAuditFile, type VerifyProblem, type VerifyResult } from "./verify.js";

import { AuditDecision, AuditRecord, type AuditEvent } from "@enclave/contracts";

/** The fields a chain adds; the rest of the record is the emitter's event. */
export interface ChainFields {
  id: string;
  seq: number;
  time: string;
  emitter: string;
  chain: string;
  prevHash: string;
}

const GENERATED = new Set(["id", "seq", "time", "emitter", "chain", "prevHash", "hash"]);
const SHAPE = AuditRecord.shape as Record<string, { safeParse(v: unknown): { success: boolean; error?: { issues: { path: PropertyKey[]; message: string }[] } } }>;
/** Every field but the hash, in sorted order, as canonical JSON lists them. */
const RECORD_KEYS = Object.keys(SHAPE).filter((k) => k !== "hash").sort();
const DECISIONS = new Set<string>(AuditDecision.options);

const str = (v: unknown) => typeof v === "string";
const strOrNull = (v: unknown) => v === null || typeof v === "string";
const count = (v: unknown) => Number.isSafeInteger(v) && (v as number) >= 0;
const countOrNull = (v: unknown) => v === null || count(v);

/**
 * Fast checks for the fields every record carries, equivalent to the schema's (a property
 * test holds them to it). Fields without one here (content, fields added to the schema
 * later) are checked by their own zod schema, so nothing reaches a chain unchecked.
 */
const FAST: Record<string, (v: unknown) => boolean> = {
  tenant: strOrNull, principal: strOrNull, model: strOrNull, region: strOrNull, nodeId: strOrNull, backendId: strOrNull, bodySha256: strOrNull,
  action: str, reason: str,
  decision: (v) => typeof v === "string" && DECISIONS.has(v),
  status: (v) => Number.isSafeInteger(v),
  retries: count, promptTokens: countOrNull, completionTokens: countOrNull,
  latencyMs: (v) => typeof v === "number" && Number.isFinite(v) && v >= 0,
  allowedRegions: (v) => Array.isArray(v) && v.every(str),
  redactions: (v) => v === undefined || (v !== null && typeof v === "object" && !Array.isArray(v) && Object.values(v).every(count)),
};

/** The field values of the record being built (buildRecord is synchronous, so one array serves every call). */
const SCRATCH: unknown[] = [];

/** What to do for each field, in sorted order (precomputed: the hot path does no lookups). */
const PLAN = RECORD_KEYS.map((key) => ({ key, generated: GENERATED.has(key), fast: FAST[key], schema: SHAPE[key]! }));
// Which fields are present is a bit set in a small integer (BigInt arithmetic allocates on every step).
if (PLAN.length > 30) throw new Error(`audit records have ${PLAN.length} fields; buildRecord's field set holds 30`);

/**
 * The record for an event: validated as the schema would (an error names the field), with
 * its keys and those of nested objects in sorted order, so `JSON.stringify` of it is its
 * canonical JSON. Unknown event fields are dropped, as the schema drops them.
 */
export function buildRecord(event: AuditEvent, chain: ChainFields): { ok: true; record: Omit<AuditRecord, "hash"> } | { ok: false; error: string } {
  const e = event as unknown as Record<string, unknown>;
  const c = chain as unknown as Record<string, unknown>;
  const values = SCRATCH;
  let present = 0;
  for (let i = 0; i < PLAN.length; i++) {
    const step = PLAN[i]!;
    const k = step.key;
    let v = step.generated ? c[k] : e[k];
    if (!step.generated) {
      if (step.fast !== undefined) {
        if (!step.fast(v)) return { ok: false, error: `${k}: ${describe(k, v)}` };
      } else {
        const r = step.schema.safeParse(v);
        if (!r.success) {
          const issue = r.error?.issues[0];
          return { ok: false, error: `${[k, ...(issue?.path ?? []).map(String)].join(".")}: ${issue?.message ?? "invalid"}` };
        }
      }
      if (v !== null && typeof v === "object" && !Array.isArray(v)) v = sortedKeys(v as Record<string, unknown>);
    }
    values[i] = v;
    if (v !== undefined) present |= 1 << i;
  }
  return { ok: true, record: literalFor(present)(values) as Omit<AuditRecord, "hash"> };
}

/**
 * A function building the record as one object literal with exactly the present fields in
 * sorted order, generated once per set of present fields (from the schema's own keys). A
 * literal keeps V8's fast properties, where adding two dozen keys one by one falls back to a
 * dictionary that JSON.stringify serialises half as fast.
 */
const literals = new Map<number, (values: unknown[]) => object>();
function literalFor(present: number): (values: unknown[]) => object {
  let f = literals.get(present);
  if (f === undefined) {
    const fields = PLAN.flatMap((p, i) => ((present >> i) & 1 ? [`${JSON.stringify(p.key)}: v[${i}]`] : []));
    f = new Function("v", `return { ${fields.join(", ")} };`) as (values: unknown[]) => object;
    literals.set(present, f);
  }
  return f;
}

function sortedKeys(o: Record<string, unknown>): Record<string, unknown> {
  const out: Record<string, unknown> = {};
  for (const k of Object.keys(o).sort()) {
    const v = o[k];
    out[k] = v !== null && typeof v === "object" && !Array.isArray(v) ? sortedKeys(v as Record<string, unknown>) : v;
  }
  return out;
}

function describe(k: string, v: unknown): string {
  if (v === undefined) return "required";
  if (k === "latencyMs" || k === "retries" || k === "promptTokens" || k === "completionTokens") return `expected a finite non-negative number${k === "latencyMs" ? "" : " (integer)"}, got ${typeof v === "number" ? String(v) : typeof v}`;
  return `invalid value of type ${v === null ? "null" : Array.isArray(v) ? "array" : typeof v}`;
}

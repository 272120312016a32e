import { z } from "zod";

/** Misbehaviour the simulator can be told to show, for tests and rehearsals. Real engines have no such switch. */
export const EngineFaults = z.strictObject({
  /** `fail`: `GET /health` answers 503, as vLLM does when its engine loop died. */
  health: z.enum(["ok", "fail"]),
  /**
   * What generation requests meet: `error500` a vLLM-style 500 before any byte; `hang` no answer at all;
   * `cut` the connection dropped mid-answer (streams after `cutAfterChunks` chunks, others before any byte).
   */
  chat: z.enum(["ok", "error500", "hang", "cut"]),
  cutAfterChunks: z.number().int().min(0).max(1_000_000),
});
export type EngineFaults = z.infer<typeof EngineFaults>;

/** A change to some of the faults, as `POST /sim/faults` takes it. */
export const EngineFaultsPatch = EngineFaults.partial();
export type EngineFaultsPatch = z.infer<typeof EngineFaultsPatch>;

export const NO_FAULTS: EngineFaults = Object.freeze({ health: "ok", chat: "ok", cutAfterChunks: 2 });

export function applyFaults(current: EngineFaults, patch: EngineFaultsPatch): EngineFaults {
  const next = { ...current };
  if (patch.health !== undefined) next.health = patch.health;
  if (patch.chat !== undefined) next.chat = patch.chat;
  if (patch.cutAfterChunks !== undefined) next.cutAfterChunks = patch.cutAfterChunks;
  return next;
}

import { z } from "zod";
import { GENESIS_HASH } from "@enclave/contracts";

/**
 * The first frame of every segment file: whose chain it continues and from where. Written
 * (with fsync and an atomic rename) before any record goes into the segment, so a spool
 * whose older segments were shipped and deleted still knows where its chain stands.
 * Not part of the chain and never shipped: a verifier uses it only as a hint of where a
 * segment should start.
 */
export const SegmentHeader = z.object({
  kind: z.literal("segment"),
  version: z.literal(1),
  emitter: z.string().min(1),
  chain: z.string().min(1),
  firstSeq: z.number().int().nonnegative(),
  prevHash: z.string(),
  created: z.string(),
});
export type SegmentHeader = z.infer<typeof SegmentHeader>;

export function firstHeader(emitter: string, chain: string, now: Date): SegmentHeader {
  return { kind: "segment", version: 1, emitter, chain, firstSeq: 0, prevHash: GENESIS_HASH, created: now.toISOString() };
}

const NAME = /^(\d{20})\.seg$/;

/** Segment files are named by the first seq they hold, zero-padded, so name order is chain order. */
export function segmentName(firstSeq: number): string {
  return `${String(firstSeq).padStart(20, "0")}.seg`;
}

export function isSegmentName(name: string): boolean {
  return NAME.test(name);
}

import { open, readFile, rename } from "node:fs/promises";
import { z } from "zod";
import { isSegmentName } from "../spool/segment-header.js";

/** How far a sink acknowledged: the place after the last acknowledged entry, and its seq. */
export const ShipPosition = z.object({
  segment: z.string().refine(isSegmentName, "a segment file name"),
  offset: z.number().int().nonnegative(),
  /** Seq of the last acknowledged entry; -1 before the first. */
  seq: z.number().int().min(-1),
});
export type ShipPosition = z.infer<typeof ShipPosition>;

/** The saved position, or null when there is none or it is unreadable (then shipping restarts from the oldest segment: duplicates, never a gap). */
export async function loadShipPosition(file: string): Promise<ShipPosition | null> {
  let text: string;
  try {
    text = await readFile(file, "utf8");
  } catch {
    return null;
  }
  try {
    const p = ShipPosition.safeParse(JSON.parse(text));
    return p.success ? p.data : null;
  } catch {
    return null;
  }
}

/** Written to a temporary file, fsynced and renamed over the old one: a crash leaves the old or the new, whole. */
export async function saveShipPosition(file: string, p: ShipPosition): Promise<void> {
  const tmp = `${file}.tmp`;
  const fh = await open(tmp, "w", 0o600);
  try {
    await fh.writeFile(JSON.stringify(p) + "\n");
    await fh.datasync();
  } finally {
    await fh.close();
  }
  await rename(tmp, file);
}

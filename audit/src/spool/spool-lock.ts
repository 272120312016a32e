import { open, readFile, rm } from "node:fs/promises";
import { join } from "node:path";

/** Locks this process holds: its own pid in a lock file is otherwise taken for a previous life (a restarted container reuses pids). */
const heldHere = new Set<string>();

export interface SpoolLock {
  release(): Promise<void>;
}

/**
 * One process per spool directory: two writers would interleave two chains' batches. The
 * lock file holds the owner's pid; a lock whose process is gone (a crash, `kill -9`) is taken over.
 */
export async function lockSpoolDir(dir: string): Promise<SpoolLock> {
  const file = join(dir, "lock");
  if (heldHere.has(file)) throw new Error(`audit spool ${dir} is already open in this process`);
  for (let attempt = 0; attempt < 3; attempt++) {
    try {
      const fh = await open(file, "wx", 0o600);
      await fh.writeFile(`${process.pid}\n`);
      await fh.close();
      heldHere.add(file);
      return {
        release: async () => {
          if (!heldHere.delete(file)) return;
          await rm(file, { force: true });
        },
      };
    } catch (e) {
      if ((e as NodeJS.ErrnoException).code !== "EEXIST") throw e;
    }
    const owner = Number.parseInt(await readFile(file, "utf8").catch(() => ""), 10);
    if (Number.isInteger(owner) && owner > 0 && owner !== process.pid && alive(owner)) {
      throw new Error(`audit spool ${dir} is in use by process ${owner}`);
    }
    await rm(file, { force: true });
  }
  throw new Error(`audit spool ${dir}: cannot take the lock`);
}

function alive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch (e) {
    return (e as NodeJS.ErrnoException).code === "EPERM";
  }
}

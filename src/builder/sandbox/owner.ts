import { readFile, writeFile, rename } from 'node:fs/promises';
import { join } from 'node:path';

/** Who owns a worker directory, so `cleanupStale` can tell a live one from a crashed one. */
export interface OwnerRecord {
  pid: number;
  /** The owner's start time (Linux /proc stat field 22) so a reused pid is not taken for it. */
  startTime: string | null;
  slot: number;
  backend: string;
  createdAt: string;
  /** The process holding the environment's mount namespace (chroot backend). */
  holderPid?: number;
  holderStartTime?: string | null;
}

export const OWNER_FILE = 'owner.json';

/** Start time of a process in clock ticks since boot, or null where /proc is not there. */
export async function processStartTime(pid: number): Promise<string | null> {
  try {
    const stat = await readFile(`/proc/${pid}/stat`, 'utf8');
    // comm (field 2) may hold spaces and parentheses: split after its closing one.
    const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
    return fields[19] ?? null;
  } catch {
    return null;
  }
}

/** True when `pid` is alive and, if a start time was recorded, is the same process. */
export async function isProcessAlive(pid: number, startTime: string | null | undefined): Promise<boolean> {
  try {
    process.kill(pid, 0);
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code !== 'EPERM') return false;
  }
  if (startTime == null) return true;
  return (await processStartTime(pid)) === startTime;
}

export async function writeOwner(envDir: string, record: OwnerRecord): Promise<void> {
  const tmp = join(envDir, `${OWNER_FILE}.tmp`);
  await writeFile(tmp, JSON.stringify(record, null, 2) + '\n');
  await rename(tmp, join(envDir, OWNER_FILE));
}

export async function readOwner(envDir: string): Promise<OwnerRecord | null> {
  try {
    const data = JSON.parse(await readFile(join(envDir, OWNER_FILE), 'utf8')) as Partial<OwnerRecord>;
    if (typeof data.pid !== 'number') return null;
    return data as OwnerRecord;
  } catch {
    return null;
  }
}

import { randomBytes } from 'node:crypto';
import { mkdir, readdir, stat } from 'node:fs/promises';
import { join, resolve } from 'node:path';
import { mountsUnder, unmount } from './mounts.js';
import { isProcessAlive, processStartTime, readOwner, writeOwner, type OwnerRecord } from './owner.js';
import { removeUnmountedTree } from './safe-remove.js';
import { UnsafeCleanupError } from './errors.js';
import type { CleanupReport } from './types.js';

export function workersDir(buildBase: string): string {
  return join(resolve(buildBase), 'workers');
}

/** Creates `<buildBase>/workers/<slot>-<random>` and records this process as its owner. */
export async function createWorkerDir(
  buildBase: string,
  slot: number,
  backend: string,
): Promise<{ id: string; dir: string; owner: OwnerRecord }> {
  const id = `${slot}-${randomBytes(4).toString('hex')}`;
  const dir = join(workersDir(buildBase), id);
  await mkdir(dir, { recursive: true });
  const owner: OwnerRecord = {
    pid: process.pid,
    startTime: await processStartTime(process.pid),
    slot,
    backend,
    createdAt: new Date().toISOString(),
  };
  await writeOwner(dir, owner);
  return { id, dir, owner };
}

/** A directory without owner.json younger than this may be one being created right now. */
const UNOWNED_GRACE_MS = 60_000;

/**
 * Removes worker directories whose owner process is gone: kills a surviving namespace holder,
 * unmounts anything below (deepest first, lazily if busy), and removes the directory only once
 * no mount is left under it.
 */
export async function cleanupStaleWorkers(buildBase: string): Promise<CleanupReport> {
  const report: CleanupReport = { removed: [], active: [], unmounted: [], refused: [] };
  const base = workersDir(buildBase);
  let names: string[];
  try {
    names = await readdir(base);
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'ENOENT') return report;
    throw err;
  }
  for (const name of names.sort()) {
    const dir = join(base, name);
    const owner = await readOwner(dir);
    if (owner) {
      if (await isProcessAlive(owner.pid, owner.startTime)) {
        report.active.push(dir);
        continue;
      }
      if (owner.holderPid && (await isProcessAlive(owner.holderPid, owner.holderStartTime))) {
        try {
          process.kill(owner.holderPid, 'SIGKILL');
        } catch {
          /* gone meanwhile */
        }
      }
    } else {
      const st = await stat(dir).catch(() => null);
      if (!st || Date.now() - st.mtimeMs < UNOWNED_GRACE_MS) continue;
    }
    for (const mp of await mountsUnder(dir)) {
      if (await unmount(mp)) report.unmounted.push(mp);
    }
    try {
      await removeUnmountedTree(dir);
      report.removed.push(dir);
    } catch (err) {
      if (!(err instanceof UnsafeCleanupError)) throw err;
      report.refused.push({ path: dir, mountpoint: err.mountpoint, reason: err.message });
    }
  }
  return report;
}

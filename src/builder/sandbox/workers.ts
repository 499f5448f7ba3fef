import { randomBytes } from 'node:crypto';
import { lstat, mkdir, readdir, unlink } from 'node:fs/promises';
import { join, resolve } from 'node:path';
import { removeCgroupOf } from './cgroup.js';
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
    // Never follow a link: a workers directory that is a symlink could lead cleanup anywhere.
    if ((await lstat(base)).isSymbolicLink()) {
      report.refused.push({
        path: base,
        mountpoint: base,
        reason: "it is a symbolic link, not portsync's own directory; remove the link by hand",
      });
      return report;
    }
    names = await readdir(base);
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'ENOENT') return report;
    throw err;
  }
  for (const name of names.sort()) {
    const dir = join(base, name);
    const st = await lstat(dir).catch(() => null);
    if (!st) continue;
    if (!st.isDirectory()) {
      // Something portsync never makes (a symlink planted to lead cleanup elsewhere, a stray file): the entry itself goes, nothing it points to.
      await unlink(dir);
      report.removed.push(dir);
      continue;
    }
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
    } else if (Date.now() - st.mtimeMs < UNOWNED_GRACE_MS) {
      continue;
    }
    // Its cgroup (named like the directory) goes too, with anything still in it.
    removeCgroupOf(name);
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

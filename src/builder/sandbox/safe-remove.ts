import { lstat, realpath, rm } from 'node:fs/promises';
import { mountsUnder } from './mounts.js';
import { UnsafeCleanupError } from './errors.js';

/**
 * Removes a worker directory only when no mount lies at or below it, so a left-over bind
 * mount of the host's distfiles or packages can never be emptied through it (go-synth's bug).
 */
export async function removeUnmountedTree(dir: string): Promise<void> {
  let real: string;
  try {
    if ((await lstat(dir)).isSymbolicLink()) throw new UnsafeCleanupError(dir, dir, 'it is a symbolic link; cleanup never follows one');
    real = await realpath(dir);
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'ENOENT') return;
    throw err;
  }
  const mounts = await mountsUnder(real);
  if (mounts.length > 0) throw new UnsafeCleanupError(dir, mounts[0]!);
  await rm(real, { recursive: true, force: true });
}

/** Moving a checked package into the repository: whole or not at all, never half a file. */
import { copyFileSync, fsyncSync, mkdirSync, openSync, closeSync, renameSync, rmSync } from 'node:fs';
import { basename, dirname, join } from 'node:path';

/**
 * Copies `from` next to `to` under a temporary name, flushes it, and renames it over `to`:
 * a reader of the repository sees the old package or the new one, never a partial one.
 */
export function publishPackage(from: string, to: string): void {
  mkdirSync(dirname(to), { recursive: true });
  const tmp = join(dirname(to), `.${basename(to)}.portsync-${process.pid}.tmp`);
  try {
    copyFileSync(from, tmp);
    const fd = openSync(tmp, 'r');
    try {
      fsyncSync(fd);
    } finally {
      closeSync(fd);
    }
    renameSync(tmp, to);
  } catch (e) {
    rmSync(tmp, { force: true });
    throw e;
  }
  rmSync(from, { force: true });
}

/**
 * Moves a package that is already durable (written and flushed, as the package exchange keeps
 * an upload) into the repository: one rename when both are on the same file system (nothing
 * copied, nothing flushed again), else publishPackage's copy.
 */
export function movePackage(from: string, to: string): void {
  mkdirSync(dirname(to), { recursive: true });
  try {
    renameSync(from, to);
  } catch (e) {
    if ((e as NodeJS.ErrnoException).code !== 'EXDEV') throw e;
    publishPackage(from, to);
  }
}

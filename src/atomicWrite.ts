/** Writing a file so that readers see the old content or the new, never half of it. */
import { randomBytes } from 'node:crypto';
import { closeSync, mkdirSync, openSync, renameSync, rmSync, symlinkSync, writeFileSync, writeSync, writevSync } from 'node:fs';
import { dirname } from 'node:path';

/**
 * Writes `data` (or its parts one after the other, not copied into one buffer first) to a
 * temporary file next to `file` (same file system), then renames it over `file`.
 */
export function writeFileAtomic(
  file: string,
  data: string | NodeJS.ArrayBufferView | readonly Uint8Array[],
  opts: { mkdir?: boolean } = {},
): void {
  if (opts.mkdir) mkdirSync(dirname(file), { recursive: true });
  const tmp = `${file}.${process.pid}.tmp`;
  try {
    if (Array.isArray(data)) writeParts(tmp, data);
    else writeFileSync(tmp, data as string | NodeJS.ArrayBufferView);
    renameSync(tmp, file);
  } catch (e) {
    rmSync(tmp, { force: true });
    throw e;
  }
}

/** Writes the parts in order: in batches of writev (thousands of small parts are common: a plan's lines). */
function writeParts(file: string, parts: readonly Uint8Array[]): void {
  const fd = openSync(file, 'w');
  try {
    for (let i = 0; i < parts.length;) {
      const batch = parts.slice(i, i + 1024).filter((p) => p.length);
      const want = batch.reduce((n, p) => n + p.length, 0);
      const wrote = batch.length ? writevSync(fd, batch) : 0;
      // A short write: the rest of this batch part by part.
      if (wrote < want) {
        let skip = wrote;
        for (const part of batch) {
          const from = Math.min(skip, part.length);
          skip -= from;
          for (let at = from; at < part.length;) at += writeSync(fd, part, at, part.length - at);
        }
      }
      i += 1024;
    }
  } finally {
    closeSync(fd);
  }
}

/** Points `link` at `target` by renaming a new symlink over it: a reader follows the old target or the new one. */
export function replaceSymlink(link: string, target: string): void {
  const tmp = `${link}.tmp-${process.pid}-${randomBytes(4).toString('hex')}`;
  symlinkSync(target, tmp);
  try {
    renameSync(tmp, link);
  } catch (e) {
    rmSync(tmp, { force: true });
    throw e;
  }
}

/** Writing a file so that readers see the old content or the new, never half of it. */
import { randomBytes } from 'node:crypto';
import { mkdirSync, renameSync, rmSync, symlinkSync, writeFileSync } from 'node:fs';
import { dirname } from 'node:path';

/** Writes `data` to a temporary file next to `file` (same file system), then renames it over `file`. */
export function writeFileAtomic(file: string, data: string | NodeJS.ArrayBufferView, opts: { mkdir?: boolean } = {}): void {
  if (opts.mkdir) mkdirSync(dirname(file), { recursive: true });
  const tmp = `${file}.${process.pid}.tmp`;
  try {
    writeFileSync(tmp, data);
    renameSync(tmp, file);
  } catch (e) {
    rmSync(tmp, { force: true });
    throw e;
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

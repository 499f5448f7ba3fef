/**
 * The root of portsync's typed errors. Every failure a user can meet is a subclass
 * with the thing at fault as a field, so the CLI can print it and pick an exit code.
 */
import { existsSync, mkdtempSync, rmdirSync } from 'node:fs';
import { dirname, join } from 'node:path';

export class PortsyncError extends Error {
  /** Exit status the CLI uses when this error ends a command. */
  readonly exitCode: number = 2;
  constructor(message: string, options?: { cause?: unknown }) {
    super(message, options);
    this.name = new.target.name;
  }
}

const FS_CAUSES: Record<string, string> = {
  EROFS: 'the file system is read-only',
  EACCES: 'permission denied',
  EPERM: 'operation not permitted',
  ENOSPC: 'no space left on the device',
  EDQUOT: 'the disk quota is exceeded',
  EMFILE: 'this process has too many open files (raise its limit: ulimit -n)',
  ENFILE: 'the system has too many open files',
  ENOTDIR: 'a part of the path is not a directory',
};

/** The first existing directory above `path`. */
function existingAncestor(path: string): string {
  let d = dirname(path);
  while (!existsSync(d) && dirname(d) !== d) d = dirname(d);
  return d;
}

/**
 * A file-system failure of the machine (read-only or full disk, permissions, descriptors) said
 * plainly, naming the path and what to do; undefined for anything else. A recursive mkdir under
 * a read-only directory reports ENOENT: the real cause is found by trying the first missing level.
 */
export function fileSystemFault(e: unknown): string | undefined {
  const err = e as NodeJS.ErrnoException | undefined;
  if (!err || typeof err.code !== 'string' || typeof err.syscall !== 'string') return undefined;
  const path = err.path ?? '';
  let code = err.code;
  if (code === 'ENOENT' && err.syscall === 'mkdir' && path) {
    const parent = existingAncestor(path);
    try {
      rmdirSync(mkdtempSync(join(parent, '.portsync-probe-')));
    } catch (probe) {
      code = (probe as NodeJS.ErrnoException).code ?? code;
    }
  }
  const cause = FS_CAUSES[code];
  if (!cause) return undefined;
  return `cannot ${err.syscall} ${path}: ${cause} (${code}). portsync keeps its database, caches, logs and packages under builds.yaml's paths: make them writable (or free space), or point paths.* elsewhere`;
}

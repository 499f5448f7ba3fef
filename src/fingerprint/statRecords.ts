/**
 * Stat records: a list of paths with the stat data (size, mtime, inode) they had when something
 * was computed from them. While every path still has exactly that stat data, and none of it was
 * too recent to trust when recorded, what was computed from them stands — the shortcut git's
 * index and the metadata cache take. A missing path is recorded as missing (size -1).
 */
import { lstatSync, statSync } from 'node:fs';

/** A file modified this close to (or after) the moment it was recorded is not trusted by its stat data. */
export const RACY_MS = 1000;

export interface StoredStatRecords {
  paths: string[];
  /** 1: stat (symlinks followed), 0: lstat. */
  follow: Uint8Array;
  size: Float64Array;
  mtimeMs: Float64Array;
  ino: Float64Array;
}

export class StatRecords {
  private readonly paths: string[] = [];
  private readonly follow: number[] = [];
  private readonly size: number[] = [];
  private readonly mtimeMs: number[] = [];
  private readonly ino: number[] = [];
  /** The newest mtime recorded: compared with the moment of recording (racy). */
  newestMtimeMs = 0;

  /** Records stat data known from elsewhere (a cache's validated records). */
  add(path: string, follow: boolean, size: number, mtimeMs: number, ino: number): void {
    this.paths.push(path);
    this.follow.push(follow ? 1 : 0);
    this.size.push(size);
    this.mtimeMs.push(mtimeMs);
    this.ino.push(ino);
    if (mtimeMs > this.newestMtimeMs) this.newestMtimeMs = mtimeMs;
  }

  /** Records a path's stat data now (missing: recorded as missing). */
  addNow(path: string, follow = false): void {
    const st = (follow ? statSync : lstatSync)(path, { throwIfNoEntry: false });
    if (st) this.add(path, follow, st.isDirectory() ? 0 : st.size, st.mtimeMs, st.ino);
    else this.add(path, follow, -1, 0, 0);
  }

  /** Was everything recorded old enough, at `at` (ms since the epoch), to be trusted by its stat data? */
  trustedAt(at: number): boolean {
    return this.newestMtimeMs + RACY_MS < at;
  }

  store(): StoredStatRecords {
    return {
      paths: this.paths,
      follow: Uint8Array.from(this.follow),
      size: Float64Array.from(this.size),
      mtimeMs: Float64Array.from(this.mtimeMs),
      ino: Float64Array.from(this.ino),
    };
  }
}

/** The recorded paths whose stat data changed (every one of them: one stat per path). */
export function changedSince(r: StoredStatRecords): string[] {
  const out: string[] = [];
  for (let i = 0; i < r.paths.length; i++) if (!sameAsRecorded(r, i)) out.push(r.paths[i]!);
  return out;
}

function sameAsRecorded(r: StoredStatRecords, i: number): boolean {
  const st = (r.follow[i] ? statSync : lstatSync)(r.paths[i]!, { throwIfNoEntry: false });
  if (!st) return r.size[i] === -1;
  return r.size[i] === (st.isDirectory() ? 0 : st.size) && r.mtimeMs[i] === st.mtimeMs && r.ino[i] === st.ino;
}

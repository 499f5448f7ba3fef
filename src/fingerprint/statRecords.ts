/**
 * Stat records: a list of paths with the stat data (size, mtime, inode) they had when something
 * was computed from them. While every path still has exactly that stat data, and none of it was
 * too recent to trust when recorded, what was computed from them stands — the shortcut git's
 * index and the metadata cache take. A missing path is recorded as missing (size -1).
 */
import { lstatSync, statSync } from 'node:fs';
import { availableParallelism } from 'node:os';
import { Worker } from 'node:worker_threads';

/** A file modified this close to (or after) the moment it was recorded is not trusted by its stat data. */
export const RACY_MS = 1000;

/** Is stat data with this mtime old enough, at `at`, to be trusted? */
export const trustedMtime = (mtimeMs: number, at: number): boolean => mtimeMs + RACY_MS < at;

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

  /**
   * Adds the stored records of paths not recorded here yet, but for `except` (paths found
   * changed since: recorded again by whoever read them).
   */
  addStored(r: StoredStatRecords, except: ReadonlySet<string>): void {
    const have = new Set(this.paths);
    for (let i = 0; i < r.paths.length; i++) {
      const path = r.paths[i]!;
      if (except.has(path) || have.has(path)) continue;
      this.add(path, r.follow[i] === 1, r.size[i]!, r.mtimeMs[i]!, r.ino[i]!);
    }
  }

  /** Records a path's stat data now (missing: recorded as missing). */
  addNow(path: string, follow = false): void {
    const st = (follow ? statSync : lstatSync)(path, { throwIfNoEntry: false });
    if (st) this.add(path, follow, st.isDirectory() ? 0 : st.size, st.mtimeMs, st.ino);
    else this.add(path, follow, -1, 0, 0);
  }

  /** Was everything recorded old enough, at `at` (ms since the epoch), to be trusted by its stat data? */
  trustedAt(at: number): boolean {
    return trustedMtime(this.newestMtimeMs, at);
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

/** The recorded paths whose stat data changed, and the newest mtime they have now. */
export interface StatChanges {
  paths: string[];
  newestMtimeMs: number;
}

/** The recorded paths whose stat data changed (every one of them: one stat per path). */
export function changedSince(r: StoredStatRecords): StatChanges {
  return changedIn(r, 0, r.paths.length);
}

/** changedSince for the records from index `from` to `to` (exclusive). */
export function changedIn(r: StoredStatRecords, from: number, to: number): StatChanges {
  const paths: string[] = [];
  let newestMtimeMs = 0;
  for (let i = from; i < to; i++) {
    const st = (r.follow[i] ? statSync : lstatSync)(r.paths[i]!, { throwIfNoEntry: false });
    const same = st
      ? r.size[i] === (st.isDirectory() ? 0 : st.size) && r.mtimeMs[i] === st.mtimeMs && r.ino[i] === st.ino
      : r.size[i] === -1;
    if (same) continue;
    paths.push(r.paths[i]!);
    if (st && st.mtimeMs > newestMtimeMs) newestMtimeMs = st.mtimeMs;
  }
  return { paths, newestMtimeMs };
}

/**
 * changedSince with the second half of the records checked by a worker thread meanwhile: a real
 * tree's 58,000 paths are ~0.5 s of stat calls on one thread. Fewer than `minPerThread` paths
 * per thread are not worth starting a thread for.
 */
export async function changedSinceInParallel(r: StoredStatRecords, minPerThread = 15_000): Promise<StatChanges> {
  const n = r.paths.length;
  if (n < 2 * minPerThread || availableParallelism() < 2) return changedSince(r);
  const half = n >> 1;
  const slice: StoredStatRecords = {
    paths: r.paths.slice(half),
    follow: r.follow.slice(half),
    size: r.size.slice(half),
    mtimeMs: r.mtimeMs.slice(half),
    ino: r.ino.slice(half),
  };
  const worker = new Worker(new URL('./stat-worker.mjs', import.meta.url), { workerData: slice });
  const theirs = new Promise<StatChanges>((resolve, reject) => {
    worker.once('message', resolve);
    worker.once('error', reject);
    worker.once('exit', (code) => reject(new Error(`the stat worker exited (code ${code}) before answering`)));
  });
  const mine = changedIn(r, 0, half);
  let other: StatChanges;
  try {
    other = await theirs;
  } catch {
    // The thread could not run (no threads left, a module that failed to load): this one checks the rest.
    other = changedIn(r, half, n);
  } finally {
    void worker.terminate();
  }
  return { paths: [...mine.paths, ...other.paths], newestMtimeMs: Math.max(mine.newestMtimeMs, other.newestMtimeMs) };
}

/**
 * The metadata cache: make's answers for each port, kept with the content CRCs of every file
 * they were computed from (the port directory and each file in .MAKE.MAKEFILES). An answer is
 * reused only while all of those CRCs are unchanged and the make settings are the same: zero
 * make calls for an unchanged tree. File stat data (size, mtime, inode) is only a shortcut for
 * recomputing a CRC, like git's index; a file changed within the same clock tick as the last
 * snapshot ("racy") is always re-read.
 */
import { lstatSync, mkdirSync, readFileSync, renameSync, statSync, writeFileSync } from 'node:fs';
import { dirname, join, resolve } from 'node:path';
import { computeFileCRC, crcOfPortFiles, entryStateOf, listPortTree, type DirEntryState, type DirState } from '../fingerprint/portCrc.js';
import type { MakeAnswer } from './make.js';

const CACHE_VERSION = 3;
/** Files modified this close to (or after) the last snapshot are not trusted by stat. */
const RACY_MS = 1000;

interface CachedFile { size: number; mtimeMs: number; ino: number; crc: string }
interface CachedDir { files: DirEntryState[]; dirs: DirState[]; crc: string }
/** `inputs`: CRCs of the other files make read, by tree-relative path (absolute outside the tree). */
export interface CachedAnswer { answer: MakeAnswer; portCrc: string; inputs: Record<string, string> }
interface CacheData {
  version: number;
  settings: string;
  snapshotAt: number;
  dirs: Record<string, CachedDir>;
  files: Record<string, CachedFile>;
  answers: Record<string, CachedAnswer>;
}

export interface CacheStats { dirsRead: number; dirsRehashed: number; filesRehashed: number; answersReused: number }

export class MetadataCache {
  private data: CacheData;
  private startedAt = Date.now();
  /** Per-scan memo: each directory and file is checked once per scan. */
  private readonly dirMemo = new Map<string, string | null>();
  /** Something was recomputed or stored: the file needs writing. */
  private dirty = false;
  private readonly fileMemo = new Map<string, string | null>();
  stats: CacheStats = { dirsRead: 0, dirsRehashed: 0, filesRehashed: 0, answersReused: 0 };

  private constructor(readonly file: string | null, private readonly tree: string, readonly settings: string, loaded: CacheData | null) {
    this.data = loaded && loaded.version === CACHE_VERSION && loaded.settings === settings
      ? loaded
      : { version: CACHE_VERSION, settings, snapshotAt: 0, dirs: {}, files: {}, answers: {} };
  }

  /** Starts a new scan with this (long-lived) cache: every directory and file is checked again. */
  beginScan(): void {
    this.startedAt = Date.now();
    this.dirMemo.clear();
    this.fileMemo.clear();
    this.stats = { dirsRead: 0, dirsRehashed: 0, filesRehashed: 0, answersReused: 0 };
    this.dirty = false;
  }

  /** Opens the cache file (a missing or unreadable one starts empty). `file` null: in memory only. */
  static open(file: string | null, tree: string, settings: string): MetadataCache {
    let loaded: CacheData | null = null;
    if (file) {
      try {
        loaded = JSON.parse(readFileSync(file, 'utf8')) as CacheData;
      } catch {
        loaded = null;
      }
    }
    return new MetadataCache(file, tree, settings, loaded);
  }

  private trusted(mtimeMs: number): boolean {
    return mtimeMs + RACY_MS < this.data.snapshotAt;
  }

  /**
   * The content CRC of a port directory (`cat/name`), recomputed only when its files' stat data
   * changed; null when the directory has no Makefile (no such port).
   */
  portCrc(dir: string): string | null {
    const memo = this.dirMemo.get(dir);
    if (memo !== undefined) return memo;
    const abs = join(this.tree, dir);
    const cached = this.data.dirs[dir];
    let files: DirEntryState[] | undefined = cached && this.unchangedListing(abs, cached);
    let dirs = cached?.dirs ?? [];
    if (!files) {
      try {
        ({ files, dirs } = listPortTree(abs));
      } catch {
        files = [];
      }
    }
    if (!files.some((f) => f.rel === 'Makefile')) {
      this.dirMemo.set(dir, null);
      return null;
    }
    this.stats.dirsRead++;
    let crc: string;
    if (cached && sameEntries(cached.files, files) && files.every((f) => this.trusted(f.mtimeMs))) {
      crc = cached.crc;
    } else {
      crc = crcOfPortFiles(abs, files);
      this.stats.dirsRehashed++;
      this.data.dirs[dir] = { files, dirs, crc };
      this.dirty = true;
    }
    this.dirMemo.set(dir, crc);
    return crc;
  }

  /**
   * The current stat data of the cached files, when no directory of the port changed (same
   * mtime and inode, old enough to trust): no directory is read. Undefined otherwise.
   */
  private unchangedListing(abs: string, cached: CachedDir): DirEntryState[] | undefined {
    try {
      for (const d of cached.dirs) {
        const st = lstatSync(d.rel ? join(abs, d.rel) : abs);
        if (!st.isDirectory() || st.mtimeMs !== d.mtimeMs || st.ino !== d.ino || !this.trusted(st.mtimeMs)) return undefined;
      }
      return cached.files.map((f) => entryStateOf(abs, f.rel));
    } catch {
      return undefined;
    }
  }

  /** The content CRC of one file (absolute path), or null when it does not exist. */
  fileCrc(file: string): string | null {
    const memo = this.fileMemo.get(file);
    if (memo !== undefined) return memo;
    let crc: string | null = null;
    try {
      const st = statSync(file);
      const cached = this.data.files[file];
      if (cached && cached.size === st.size && cached.mtimeMs === st.mtimeMs && cached.ino === st.ino && this.trusted(st.mtimeMs)) {
        crc = cached.crc;
      } else {
        crc = computeFileCRC(file);
        this.stats.filesRehashed++;
        this.data.files[file] = { size: st.size, mtimeMs: st.mtimeMs, ino: st.ino, crc };
        this.dirty = true;
      }
    } catch {
      crc = null;
    }
    this.fileMemo.set(file, crc);
    return crc;
  }

  /** A stored make answer, if every input it was computed from is unchanged. */
  answer(key: string, dir: string): CachedAnswer | undefined {
    const c = this.data.answers[key];
    if (!c || c.portCrc !== this.portCrc(dir)) return undefined;
    for (const [file, crc] of Object.entries(c.inputs)) if (this.fileCrc(resolve(this.tree, file)) !== crc) return undefined;
    this.stats.answersReused++;
    return c;
  }

  store(key: string, value: CachedAnswer): void {
    this.data.answers[key] = value;
    this.dirty = true;
  }

  /**
   * Writes the cache atomically (temporary file, then rename), when anything changed or when
   * files were re-read only because they were too recent to trust (the new snapshot time lets
   * the next scan trust them).
   */
  save(): void {
    if (!this.file || (!this.dirty && this.stats.dirsRehashed === 0 && this.stats.filesRehashed === 0)) return;
    this.dirty = false;
    this.data.snapshotAt = this.startedAt;
    mkdirSync(dirname(this.file), { recursive: true });
    const tmp = `${this.file}.${process.pid}.tmp`;
    writeFileSync(tmp, JSON.stringify(this.data));
    renameSync(tmp, this.file);
  }
}

function sameEntries(a: readonly DirEntryState[], b: readonly DirEntryState[]): boolean {
  if (a.length !== b.length) return false;
  for (let i = 0; i < a.length; i++) {
    const x = a[i]!, y = b[i]!;
    if (x.rel !== y.rel || x.kind !== y.kind || x.size !== y.size || x.mtimeMs !== y.mtimeMs || x.ino !== y.ino) return false;
  }
  return true;
}

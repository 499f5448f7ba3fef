/**
 * The metadata cache: each port's parsed metadata (or why it could not be read), kept with the
 * content CRCs of every file it was computed from: the port directory, and its input set — the
 * other files make read (.MAKE.MAKEFILES outside the port directory). An answer is reused only
 * while all of those CRCs are unchanged and the make settings are the same: zero make calls
 * for an unchanged tree.
 *
 * Most ports read the same few dozen framework makefiles, so input sets are stored once (a
 * table) and each set is validated once per scan, not once per port; ports with one set share
 * one frozen `inputs` object. File stat data (size, mtime, inode) is only a shortcut for
 * recomputing a CRC, like git's index; a file changed within the same clock tick as the last
 * snapshot ("racy") is always re-read. A long-lived process (the daemon) may say what may have
 * changed since its previous scan (`beginScan(changed)`); whatever lies outside those paths and
 * was checked by this process before is trusted without a stat.
 */
import { lstatSync, readFileSync, statSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { writeFileAtomic } from '../atomicWrite.js';
import { deserialize, serialize } from 'node:v8';
import { computeFileCRC, crcOfPortFiles, listPortFiles, listPortTree, type DirEntryState } from '../fingerprint/portCrc.js';
import { trustedMtime, type StatRecords, type StoredStatRecords } from '../fingerprint/statRecords.js';
import { canonicalOrigin } from './origin.js';
import { profileRelative } from './profile.js';
import type { ScannedPort } from './types.js';
import { DEP_KINDS, type Dependency, type PortMeta } from './types.js';

export const CACHE_VERSION = 5;
const SAVE_MS_PER_ANSWER = 0.04;

/** Why a port could not be read, as the scanner reports it. */
export interface CachedFailure {
  kind: 'make-failed' | 'bad-depends';
  message: string;
}

/** A file outside the port directories (framework makefile, a master port's file, a framework script). */
interface FileEntry {
  /** Absolute path. */
  readonly abs: string;
  /** Its name in `inputs`: tree-relative inside the tree, absolute outside. */
  readonly key: string;
  size: number;
  mtimeMs: number;
  ino: number;
  crc: string;
}

/** A distinct set of input files with the CRCs they had: shared by every answer that read exactly them. */
export class InputSet {
  private frozen: Readonly<Record<string, string>> | undefined;
  /** Scan number of the last check, and its result. */
  checkedIn = -1;
  valid = false;
  constructor(
    readonly files: readonly FileEntry[],
    readonly crcs: readonly string[],
  ) {}

  /** `{ key: crc }`, one frozen object per set. */
  get inputs(): Readonly<Record<string, string>> {
    if (!this.frozen) {
      const o: Record<string, string> = {};
      for (let i = 0; i < this.files.length; i++) o[this.files[i]!.key] = this.crcs[i]!;
      this.frozen = Object.freeze(o);
    }
    return this.frozen;
  }

  static id(files: readonly { abs: string }[], crcs: readonly string[]): string {
    let s = '';
    for (let i = 0; i < files.length; i++) s += `${files[i]!.abs}\0${crcs[i]}\n`;
    return s;
  }
}

/** One cached answer: the port directory's CRC and input set it was computed from, and what it gave. */
export interface CacheEntry {
  portCrc: string;
  set: InputSet;
  /** Makefiles make read inside the port directory, relative to it; absent means just `Makefile`. */
  own?: string[];
  meta?: PortMeta;
  failure?: CachedFailure;
  /** What the scanner last built from it (in memory only): reused while nothing changed. */
  handedOut?: ScannedPort;
}

/**
 * A port directory's content CRC and the stat data it was computed at, flat (small to store, no
 * object per file): `d` = [rel, mtimeMs, ino] per directory ('' the port directory itself),
 * `f` = [rel, size, mtimeMs, ino, 1 for a symlink else 0] per file.
 */
interface CachedDir {
  crc: string;
  d: (string | number)[];
  f: (string | number)[];
}

/**
 * A PortMeta as stored, positional: [dir, flavor, flavors, pkgname, version, pkgfile, distfiles,
 * distSubdir, ignore, depends, selectedOptions, deselectedOptions, warnings, vars]. `origin` is
 * derived; `makefiles` comes from the entry's set. A dependency is `<kind index><raw>` when raw
 * is exactly target:origin[:tag], else [kind index, target, origin, tag, raw]; the empty
 * LOCALBASE's path is written as \u0001.
 */
type StoredMeta = [
  string,
  string,
  string[],
  string,
  string,
  string,
  string[],
  string,
  string,
  (string | [number, string, string, string | null, string])[],
  string[],
  string[],
  string[],
  Record<string, string>,
];

/**
 * The file format: v8.serialize of this (it loads ~20% faster than the same data as JSON; a file
 * that does not deserialize, e.g. an older JSON cache, is ignored). Files and sets are tables;
 * answers point into them by index.
 */
interface CacheFile {
  version: number;
  settings: string;
  snapshotAt: number;
  /** How long the last save before this one took, ms (estimatedSaveMs). */
  saveMs?: number;
  /** [absolute path, size, mtimeMs, ino, crc] */
  files: [string, number, number, number, string][];
  /** [file indices, their CRCs concatenated (8 hex digits each)] */
  sets: [number[], string][];
  dirs: Record<string, CachedDir>;
  /** key → [portCrc, set index, meta | null, failure | null, own makefiles?] */
  answers: Record<string, [string, number, StoredMeta | null, CachedFailure | null, string[]?]>;
}

export interface CacheStats {
  dirsRead: number;
  dirsRehashed: number;
  filesRehashed: number;
  answersReused: number;
  setsChecked: number;
  stats: number;
  /** Time spent computing CRCs of changed directories and files. */
  rehashMs: number;
}

/**
 * How a file is named in `inputs`: tree-relative inside the tree; a file of a make profile by its
 * location-independent profile name (`@profile/<name>/...`, see profile.ts); other files outside
 * the tree (the host's system makefiles) by their absolute path.
 */
export function inputKey(tree: string, abs: string): string {
  const prefix = tree.endsWith('/') ? tree : `${tree}/`;
  if (abs.startsWith(prefix)) return abs.slice(prefix.length);
  return profileRelative(abs) ?? abs;
}

export class MetadataCache {
  private snapshotAt = 0;
  private startedAt = Date.now();
  private readonly dirs: Record<string, CachedDir>;
  private readonly files = new Map<string, FileEntry>();
  private readonly sets = new Map<string, InputSet>();
  private readonly answers = new Map<string, CacheEntry>();
  /** Entries checked against the disk by this process: only those may be trusted without a stat. */
  private readonly checked = new WeakSet<object>();
  /** Per-scan memo: each directory and file is checked once per scan. */
  private readonly dirMemo = new Map<string, string | null>();
  private readonly fileMemo = new Map<string, string | null>();
  private scan = 0;
  /** How many scans this cache has begun (a result is current while no other scan began after it). */
  get scans(): number {
    return this.scan;
  }
  /** The daemon's hint for this scan: null = check everything. */
  private changed: Set<string> | null = null;
  /** Every proper ancestor of a changed path: a directory holding a change. */
  private changedAbove = new Set<string>();
  /** The framework directory's last listing (this process). */
  private framework: { files: Readonly<Record<string, string>>; all: string[] } | undefined;
  private frameworkListedIn = -1;
  /** Something was recomputed or stored: the file needs writing. */
  private dirty = false;
  /** How long the last save took, ms (this process's, or the one recorded in the file). */
  private saveMs: number | undefined;
  stats: CacheStats = { dirsRead: 0, dirsRehashed: 0, filesRehashed: 0, answersReused: 0, setsChecked: 0, stats: 0, rehashMs: 0 };

  private constructor(
    readonly file: string | null,
    readonly tree: string,
    readonly settings: string,
    private readonly localbase: string,
    loaded: CacheFile | null,
  ) {
    const ok = loaded && loaded.version === CACHE_VERSION && loaded.settings === settings;
    this.dirs = ok ? loaded.dirs : {};
    if (!ok) return;
    this.snapshotAt = loaded.snapshotAt;
    this.saveMs = loaded.saveMs;
    const fileAt: FileEntry[] = loaded.files.map(([abs, size, mtimeMs, ino, crc]) => {
      const f: FileEntry = { abs, key: inputKey(tree, abs), size, mtimeMs, ino, crc };
      this.files.set(abs, f);
      return f;
    });
    const setAt: InputSet[] = loaded.sets.map(([idx, crcs]) => {
      const files = idx.map((i) => fileAt[i]!);
      const list: string[] = new Array(files.length);
      for (let i = 0; i < files.length; i++) list[i] = crcs.slice(8 * i, 8 * i + 8);
      const set = new InputSet(files, list);
      this.sets.set(InputSet.id(files, list), set);
      return set;
    });
    for (const key in loaded.answers) {
      const [portCrc, s, meta, failure, own] = loaded.answers[key]!;
      const e: CacheEntry = { portCrc, set: setAt[s]! };
      if (meta) e.meta = decodeMeta(meta, localbase);
      if (failure) e.failure = failure;
      if (own) e.own = own;
      this.answers.set(key, e);
    }
  }

  /** Opens the cache file (a missing or unreadable one starts empty). `file` null: in memory only. */
  static open(file: string | null, tree: string, settings: string, localbase = ''): MetadataCache {
    let loaded: CacheFile | null = null;
    if (file) {
      try {
        loaded = deserialize(readFileSync(file)) as CacheFile;
      } catch {
        loaded = null;
      }
    }
    const c = new MetadataCache(file, tree, settings, localbase, loaded);
    c.beginScan();
    return c;
  }

  /**
   * Starts a scan with this (possibly long-lived) cache. `changed`: absolute paths (files or
   * directories) that may have changed since this process's previous scan with this cache;
   * what lies outside them and was checked by this process is trusted without a stat.
   * 'all' or undefined: every directory and file is checked again.
   */
  beginScan(changed?: ReadonlySet<string> | 'all'): void {
    this.scan++;
    this.startedAt = Date.now();
    this.dirMemo.clear();
    this.fileMemo.clear();
    this.stats = { dirsRead: 0, dirsRehashed: 0, filesRehashed: 0, answersReused: 0, setsChecked: 0, stats: 0, rehashMs: 0 };
    this.dirty = false;
    this.changed = null;
    this.changedAbove = new Set();
    if (changed && changed !== 'all') {
      this.changed = new Set();
      for (const c of changed) {
        const p = resolve(c);
        this.changed.add(p);
        for (let i = p.lastIndexOf('/'); i > 0; i = p.lastIndexOf('/', i - 1)) this.changedAbove.add(p.slice(0, i));
        this.changedAbove.add('/');
      }
    }
  }

  /**
   * Trusts, as if this process had checked them, the records that are exactly as in `records`
   * for every path they hold, none of those paths among `changed` (the rest was found by stat
   * to be as recorded — ScanOptions.trusted) and all old enough to trust (as unchangedOnDisk
   * and fileCrc require). Only for a cache just loaded, before any scan; false when it had
   * loaded no records.
   */
  trustUnchanged(records: StoredStatRecords, changed: ReadonlySet<string>): boolean {
    if (this.files.size === 0) return false;
    const at = new Map<string, number>();
    for (let i = 0; i < records.count; i++) {
      const path = records.path(i);
      if (!changed.has(path)) at.set(path, i);
    }
    const same = (path: string, size: number, mtimeMs: number, ino: number) => {
      const i = at.get(path);
      return (
        i !== undefined && records.size[i] === size && records.mtimeMs[i] === mtimeMs && records.ino[i] === ino && this.trusted(mtimeMs)
      );
    };
    for (const dir in this.dirs) {
      const c = this.dirs[dir]!;
      const abs = join(this.tree, dir);
      let all = true;
      for (let i = 0; all && i < c.d.length; i += 3)
        all = same(c.d[i] ? `${abs}/${c.d[i] as string}` : abs, 0, c.d[i + 1] as number, c.d[i + 2] as number);
      for (let i = 0; all && i < c.f.length; i += 5)
        all = same(`${abs}/${c.f[i] as string}`, c.f[i + 1] as number, c.f[i + 2] as number, c.f[i + 3] as number);
      if (all) this.checked.add(c);
    }
    for (const f of this.files.values()) if (same(f.abs, f.size, f.mtimeMs, f.ino)) this.checked.add(f);
    return true;
  }

  /** May `abs` (or, for a directory, something below it) have changed? */
  private mayHaveChanged(abs: string, isDir: boolean): boolean {
    const changed = this.changed;
    if (!changed) return true;
    if (changed.size === 0) return false;
    if (isDir && this.changedAbove.has(abs)) return true;
    for (let p = abs; ;) {
      if (changed.has(p)) return true;
      const i = p.lastIndexOf('/');
      if (i <= 0) return changed.has('/');
      p = p.slice(0, i);
    }
  }

  private trusted(mtimeMs: number): boolean {
    return trustedMtime(mtimeMs, this.snapshotAt);
  }

  /**
   * The content CRC of a port directory (`cat/name`), recomputed only when its files' stat data
   * changed; null when the directory has no Makefile (no such port).
   */
  portCrc(dir: string): string | null {
    const memo = this.dirMemo.get(dir);
    if (memo !== undefined) return memo;
    const abs = join(this.tree, dir);
    const cached = this.dirs[dir];
    if (cached && ((this.checked.has(cached) && !this.mayHaveChanged(abs, true)) || this.unchangedOnDisk(abs, cached))) {
      this.checked.add(cached);
      this.stats.dirsRead++;
      this.dirMemo.set(dir, cached.crc);
      return cached.crc;
    }
    let files: DirEntryState[] = [];
    let dirs: { rel: string; mtimeMs: number; ino: number }[] = [];
    try {
      ({ files, dirs } = listPortTree(abs));
    } catch {
      files = [];
    }
    if (!files.some((f) => f.rel === 'Makefile')) {
      this.dirMemo.set(dir, null);
      return null;
    }
    this.stats.dirsRead++;
    const t = performance.now();
    const crc = crcOfPortFiles(abs, files);
    this.stats.rehashMs += performance.now() - t;
    this.stats.dirsRehashed++;
    const entry: CachedDir = {
      crc,
      d: dirs.flatMap((x) => [x.rel, x.mtimeMs, x.ino]),
      f: files.flatMap((x) => [x.rel, x.size, x.mtimeMs, x.ino, x.kind === 'symlink' ? 1 : 0]),
    };
    this.dirs[dir] = entry;
    this.checked.add(entry);
    this.dirty = true;
    this.dirMemo.set(dir, crc);
    return crc;
  }

  /**
   * Whether a port directory is as cached: its directories (same mtime and inode: no entry
   * added or removed) and every file (same size, mtime, inode, kind), all old enough to trust.
   * One lstat per directory and file; nothing read, nothing allocated.
   */
  private unchangedOnDisk(abs: string, c: CachedDir): boolean {
    const { d, f } = c;
    for (let i = 0; i < d.length; i += 3) {
      const rel = d[i] as string;
      const st = lstatSync(rel ? `${abs}/${rel}` : abs, { throwIfNoEntry: false });
      this.stats.stats++;
      if (!st || !st.isDirectory() || st.mtimeMs !== d[i + 1] || st.ino !== d[i + 2] || !this.trusted(st.mtimeMs)) return false;
    }
    for (let i = 0; i < f.length; i += 5) {
      const st = lstatSync(`${abs}/${f[i] as string}`, { throwIfNoEntry: false });
      this.stats.stats++;
      if (
        !st ||
        st.size !== f[i + 1] ||
        st.mtimeMs !== f[i + 2] ||
        st.ino !== f[i + 3] ||
        (st.isSymbolicLink() ? 1 : 0) !== f[i + 4] ||
        !this.trusted(st.mtimeMs)
      )
        return false;
    }
    return true;
  }

  /**
   * Adds to `out` the stat data this cache holds, as validated or made by its latest scan, for
   * what these answers were computed from: their port directories (every directory and file,
   * lstat) and input files (stat), and the framework's files. No syscall.
   */
  recordInputs(used: ReadonlyMap<CacheEntry, string>, out: StatRecords): void {
    const dirs = new Set<string>();
    const sets = new Set<InputSet>();
    const files = new Set<FileEntry>();
    for (const [e, dir] of used) {
      sets.add(e.set);
      if (dirs.has(dir)) continue;
      dirs.add(dir);
      const c = this.dirs[dir];
      if (!c) continue;
      const abs = join(this.tree, dir);
      for (let i = 0; i < c.d.length; i += 3)
        out.add(c.d[i] ? `${abs}/${c.d[i] as string}` : abs, false, 0, c.d[i + 1] as number, c.d[i + 2] as number);
      for (let i = 0; i < c.f.length; i += 5)
        out.add(`${abs}/${c.f[i] as string}`, false, c.f[i + 1] as number, c.f[i + 2] as number, c.f[i + 3] as number);
    }
    for (const set of sets) for (const f of set.files) files.add(f);
    for (const abs of this.framework?.all ?? []) {
      const f = this.files.get(abs);
      if (f) files.add(f);
    }
    for (const f of files) out.add(f.abs, true, f.size, f.mtimeMs, f.ino);
  }

  /** The content CRC of one file (absolute path), or null when it does not exist. */
  fileCrc(file: string): string | null {
    const memo = this.fileMemo.get(file);
    if (memo !== undefined) return memo;
    const cached = this.files.get(file);
    if (cached && this.checked.has(cached) && !this.mayHaveChanged(file, false)) {
      this.fileMemo.set(file, cached.crc);
      return cached.crc;
    }
    let crc: string | null = null;
    try {
      const st = statSync(file);
      this.stats.stats++;
      if (cached && cached.size === st.size && cached.mtimeMs === st.mtimeMs && cached.ino === st.ino && this.trusted(st.mtimeMs)) {
        crc = cached.crc;
        this.checked.add(cached);
      } else {
        const t = performance.now();
        crc = computeFileCRC(file);
        this.stats.rehashMs += performance.now() - t;
        this.stats.filesRehashed++;
        if (cached && cached.crc === crc) {
          Object.assign(cached, { size: st.size, mtimeMs: st.mtimeMs, ino: st.ino });
          this.checked.add(cached);
        } else {
          // A new entry (never mutated in place): sets hold the entries they were made with.
          const entry: FileEntry = { abs: file, key: inputKey(this.tree, file), size: st.size, mtimeMs: st.mtimeMs, ino: st.ino, crc };
          this.files.set(file, entry);
          this.checked.add(entry);
        }
        this.dirty = true;
      }
    } catch {
      crc = null;
    }
    this.fileMemo.set(file, crc);
    return crc;
  }

  /** Are all files of the set unchanged? Checked once per set per scan. */
  private setValid(set: InputSet): boolean {
    if (set.checkedIn === this.scan) return set.valid;
    this.stats.setsChecked++;
    let valid = true;
    for (let i = 0; i < set.files.length; i++) {
      if (this.fileCrc(set.files[i]!.abs) !== set.crcs[i]) {
        valid = false;
        break;
      }
    }
    set.checkedIn = this.scan;
    set.valid = valid;
    return valid;
  }

  /** A stored answer, if its port directory and every input it was computed from are unchanged. */
  answer(key: string, dir: string): CacheEntry | undefined {
    const c = this.answers.get(key);
    if (!c || c.portCrc !== this.portCrc(dir) || !this.setValid(c.set)) return undefined;
    this.stats.answersReused++;
    return c;
  }

  /** The shared input set of these files (absolute paths) at their current CRCs; files that do not exist are left out. */
  inputSet(files: readonly string[]): InputSet {
    const entries: FileEntry[] = [];
    const crcs: string[] = [];
    for (const f of files) {
      const crc = this.fileCrc(f);
      if (crc === null) continue;
      entries.push(this.files.get(f)!);
      crcs.push(crc);
    }
    const id = InputSet.id(entries, crcs);
    let set = this.sets.get(id);
    if (!set) {
      set = new InputSet(entries, crcs);
      this.sets.set(id, set);
    }
    set.checkedIn = this.scan;
    set.valid = true;
    return set;
  }

  store(key: string, entry: CacheEntry): CacheEntry {
    this.answers.set(key, entry);
    this.dirty = true;
    return entry;
  }

  /**
   * Files of the framework directory (`Mk/`) that are not makefiles, by tree-relative path: one
   * frozen object, the same one while they are unchanged. `all`: every file of `Mk/` (absolute).
   */
  frameworkListing(): { files: Readonly<Record<string, string>>; all: string[] } {
    const mk = join(this.tree, 'Mk');
    const prev = this.framework;
    if (prev && (this.frameworkListedIn === this.scan || (this.changed && !this.mayHaveChanged(mk, true)))) return prev;
    this.frameworkListedIn = this.scan;
    const out: Record<string, string> = {};
    const all: string[] = [];
    let listing: DirEntryState[] = [];
    try {
      listing = listPortFiles(mk);
    } catch {
      listing = [];
    }
    for (const f of listing) {
      const abs = join(mk, f.rel);
      all.push(abs);
      if (f.rel.endsWith('.mk')) continue;
      const crc = this.fileCrc(abs);
      if (crc !== null) out[`Mk/${f.rel}`] = crc;
    }
    const same = prev && sameRecord(prev.files, out) && prev.all.length === all.length && prev.all.every((p, i) => p === all[i]);
    this.framework = same ? prev : { files: Object.freeze(out), all };
    return this.framework;
  }

  /**
   * Writes the cache atomically (temporary file, then rename), when anything changed or when
   * files were re-read only because they were too recent to trust (the new snapshot time lets
   * the next scan trust them). Sets no answer uses any more are dropped.
   */
  /**
   * What writing the whole file costs: as long as the last save took (kept in the file), else
   * about 40 µs an answer (a 10,600-port tree's: ~0.4 s). A scan that re-read only a few ports
   * saves less than that by writing: it leaves the file as it is, and the next scan re-reads those
   * few again — until re-reading costs more than writing.
   */
  estimatedSaveMs(): number {
    return this.saveMs ?? this.answers.size * SAVE_MS_PER_ANSWER;
  }

  save(): void {
    if (!this.file || (!this.dirty && this.stats.dirsRehashed === 0 && this.stats.filesRehashed === 0)) return;
    const t0 = performance.now();
    this.dirty = false;
    this.snapshotAt = this.startedAt;
    const out: CacheFile = {
      version: CACHE_VERSION,
      settings: this.settings,
      snapshotAt: this.snapshotAt,
      ...(this.saveMs !== undefined ? { saveMs: this.saveMs } : {}),
      files: [],
      sets: [],
      dirs: this.dirs,
      answers: {},
    };
    const fileIndex = new Map<FileEntry, number>();
    const setIndex = new Map<InputSet, number>();
    const fileNo = (f: FileEntry) => {
      let i = fileIndex.get(f);
      if (i === undefined) {
        i = out.files.push([f.abs, f.size, f.mtimeMs, f.ino, f.crc]) - 1;
        fileIndex.set(f, i);
      }
      return i;
    };
    for (const [key, e] of this.answers) {
      let s = setIndex.get(e.set);
      if (s === undefined) {
        s = out.sets.push([e.set.files.map(fileNo), e.set.crcs.join('')]) - 1;
        setIndex.set(e.set, s);
      }
      const row: CacheFile['answers'][string] = [e.portCrc, s, e.meta ? encodeMeta(e.meta, this.localbase) : null, e.failure ?? null];
      if (e.own) row.push(e.own);
      out.answers[key] = row;
    }
    // Framework scripts are no set's members: keep their stat data too.
    for (const f of this.framework?.all ?? []) {
      const entry = this.files.get(f);
      if (entry) fileNo(entry);
    }
    // Forget sets and file entries nothing refers to any more (a long-lived process).
    for (const [id, set] of this.sets) if (!setIndex.has(set)) this.sets.delete(id);
    for (const [abs, f] of this.files) if (!fileIndex.has(f)) this.files.delete(abs);
    writeFileAtomic(this.file, serialize(out), { mkdir: true });
    this.saveMs = performance.now() - t0;
  }
}

function sameRecord(a: Readonly<Record<string, string>>, b: Readonly<Record<string, string>>): boolean {
  const ka = Object.keys(a);
  if (ka.length !== Object.keys(b).length) return false;
  return ka.every((k) => a[k] === b[k]);
}

const LB = '\u0001';

function encodeMeta(m: PortMeta, localbase: string): StoredMeta {
  const sub = (x: string) => (localbase && x.includes(localbase) ? x.replaceAll(localbase, LB) : x);
  const depends = m.depends.map((d): StoredMeta[9][number] => {
    const k = DEP_KINDS.indexOf(d.kind);
    return d.raw === (d.tag === undefined ? `${d.target}:${d.origin}` : `${d.target}:${d.origin}:${d.tag}`)
      ? sub(`${k}${d.raw}`)
      : [k, sub(d.target), d.origin, d.tag ?? null, sub(d.raw)];
  });
  return [
    m.dir,
    m.flavor,
    m.flavors,
    m.pkgname,
    m.version,
    m.pkgfile,
    m.distfiles,
    m.distSubdir,
    m.ignore,
    depends,
    m.selectedOptions,
    m.deselectedOptions,
    m.warnings,
    m.vars,
  ];
}

function decodeMeta(s: StoredMeta, localbase: string): PortMeta {
  const [
    dir,
    flavor,
    flavors,
    pkgname,
    version,
    pkgfile,
    distfiles,
    distSubdir,
    ignore,
    deps,
    selectedOptions,
    deselectedOptions,
    warnings,
    vars,
  ] = s;
  const unsub = (x: string) => (x.includes(LB) ? x.replaceAll(LB, localbase) : x);
  const depends = deps.map((d): Dependency => {
    if (typeof d !== 'string') {
      const [k, target, origin, tag, raw] = d;
      return tag === null
        ? { kind: DEP_KINDS[k]!, target: unsub(target), origin, raw: unsub(raw) }
        : { kind: DEP_KINDS[k]!, target: unsub(target), origin, tag, raw: unsub(raw) };
    }
    const raw = unsub(d.slice(1));
    const kind = DEP_KINDS[d.charCodeAt(0) - 48]!;
    const c1 = raw.indexOf(':');
    const c2 = raw.indexOf(':', c1 + 1);
    const target = raw.slice(0, c1);
    return c2 < 0
      ? { kind, target, origin: raw.slice(c1 + 1), raw }
      : { kind, target, origin: raw.slice(c1 + 1, c2), tag: raw.slice(c2 + 1), raw };
  });
  return {
    origin: canonicalOrigin(dir, flavor, flavors),
    dir,
    flavor,
    flavors,
    pkgname,
    version,
    pkgfile,
    distfiles,
    distSubdir,
    ignore,
    depends,
    selectedOptions,
    deselectedOptions,
    warnings,
    vars,
  };
}

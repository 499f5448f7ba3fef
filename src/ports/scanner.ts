/**
 * Reading the part of a ports tree a desired state needs: starting from the requested origins,
 * evaluate each port (cached), follow its dependencies, and collect what went wrong on the way.
 * Make runs with bounded concurrency, started by the make runner (a small helper process: this
 * one never forks per make call), each call with a time limit; everything else is synchronous
 * and cheap.
 */
import { availableParallelism } from 'node:os';
import { isAbsolute, join, relative, sep } from 'node:path';
import type { StatRecords, StoredStatRecords } from '../fingerprint/statRecords.js';
import { MetadataCache, type CacheEntry, type CachedFailure } from './cache.js';
import { PortMetadataError, MalformedDependencyError } from './errors.js';
import { DEFAULT_MAKE_TIMEOUT_MS, makefilesOf, parsePortAnswer, queryPort, readerIdentity, type MakeSettings } from './make.js';
import { canonicalOrigin, parseOrigin } from './origin.js';
import { isCategoryName } from './tree.js';
import type { ScannedPort } from './types.js';

export type ScanProblemKind = 'no-such-port' | 'unknown-flavor' | 'make-failed' | 'bad-depends';

/** A requested origin that could not be read. Dependents are filled in by the graph. */
export interface ScanProblem {
  origin: string;
  kind: ScanProblemKind;
  message: string;
}

export interface ScanOptions {
  settings: MakeSettings;
  /** Where the metadata cache lives; null keeps it in memory only. */
  cacheFile: string | null;
  /** Concurrent make processes (default: number of cores). */
  concurrency?: number;
  /** Per-port make variables (from builds.yaml), by origin as written there. */
  varsFor?: (origin: string) => Record<string, string>;
  /** Roots that came from a glob: a directory without a Makefile among them is not a port, and is dropped silently. */
  optional?: ReadonlySet<string>;
  /** Time limit of one make call, ms (default 60 s): a hanging Makefile is that port's make failure. */
  makeTimeoutMs?: number;
  /**
   * The daemon's hint: absolute paths (files or directories) that may have changed since this
   * process's previous scan with the same cache (since that scan started). Directories and files
   * not under any of them, and checked by an earlier scan of this process, are trusted without a
   * stat. 'all' or absent: everything is checked (stat data, CRCs when it changed).
   */
  changed?: ReadonlySet<string> | 'all';
  /**
   * The result of this same request (roots, optional roots, vars) made by this process, still
   * current (isLatestScan before this scan). With a set of changed paths that all lie inside port
   * directories, only the ports those paths touch are read again; when what they depend on is
   * unchanged, the rest of `previous` stands. Otherwise the whole closure is walked.
   */
  previous?: ScanResult;
  /** Told which ports `previous`'s hint reads again (their origins), as it begins: what they call for may begin too. */
  onReread?: (origins: readonly string[]) => void;
  /**
   * For a process that has not scanned yet: stat records found unchanged since a known moment,
   * but for `changed` (a kept plan's check, src/reconcile/plan-snapshot.ts). A cache record that
   * is exactly one of them is trusted without a stat, as the daemon's are between hinted scans.
   */
  trusted?: TrustedPaths;
  /**
   * Read exactly these ports and not what they depend on (`roots` is then ignored): a kept plan's
   * ports whose files changed (reconcile/kept-observation.ts).
   */
  only?: readonly PortRequest[];
}

/** What a port was evaluated from: its directory, the flavor asked for ('' the default), and the vars builds.yaml gave it. */
export interface PortRequest {
  dir: string;
  flavor: string;
  vars: Record<string, string>;
}

export interface TrustedPaths {
  /** Stat records found still as recorded, but for `changed`. */
  records: StoredStatRecords;
  changed: ReadonlySet<string>;
}

export interface ScanResult {
  /** Evaluated ports by canonical origin. */
  ports: Map<string, ScannedPort>;
  /** Origins (as written) that could not be read, and why. */
  problems: Map<string, ScanProblem>;
  /** The roots that were read (optional roots that are not ports are left out). */
  roots: string[];
  /**
   * Files of the framework directory (`Mk/`) that are not makefiles — scripts the phases run —
   * by tree-relative path: inputs of every port, though make never lists them.
   */
  frameworkFiles: Readonly<Record<string, string>>;
  /** Maps an origin as written (`cat/p`, `cat/p@default`, `cat/p@other`) to its node, if it resolved. */
  resolve(origin: string): string | undefined;
  stats: {
    ports: number;
    makeCalls: number;
    cached: number;
    durationMs: number;
    dirsRehashed: number;
    filesRehashed: number;
    stats: number;
  };
}

/** A counting semaphore: at most `n` make processes at once. */
function limiter(n: number) {
  let active = 0;
  const waiting: (() => void)[] = [];
  return async <T>(fn: () => Promise<T>): Promise<T> => {
    if (active >= n) await new Promise<void>((r) => waiting.push(r));
    active++;
    try {
      return await fn();
    } finally {
      active--;
      waiting.shift()?.();
    }
  };
}

/**
 * Caches stay in memory between scans of one process (the daemon): no re-reading of the cache
 * file, and what was handed out is handed out again while it is unchanged.
 */
const openCaches = new Map<string, MetadataCache>();

function openCache(
  file: string | null,
  tree: string,
  settings: string,
  localbase: string,
  changed: ScanOptions['changed'],
  trusted: TrustedPaths | undefined,
): MetadataCache {
  const key = `${file}\0${tree}`;
  const open = file ? openCaches.get(key) : undefined;
  if (open && open.settings === settings) {
    open.beginScan(changed);
    return open;
  }
  const cache = MetadataCache.open(file, tree, settings, localbase);
  if (trusted && cache.trustUnchanged(trusted.records, trusted.changed)) cache.beginScan(trusted.changed);
  if (file) openCaches.set(key, cache);
  return cache;
}

/**
 * A long-lived process (the daemon) saves its caches after a pass instead of at the end of each
 * scan: writing a whole tree's cache takes a few hundred ms, and the plan waits for the scan.
 */
let savesDeferred = false;
const unsaved = new Set<MetadataCache>();

export function deferCacheSaves(on = true): void {
  savesDeferred = on;
}

/** Saves what scans left unsaved (deferCacheSaves); a failure to write costs only speed and is thrown. */
export function saveScanCaches(): void {
  const caches = [...unsaved];
  unsaved.clear();
  for (const c of caches) c.save();
}

/** Each result's cache and that cache's scan count when the result was made. */
const madeBy = new WeakMap<ScanResult, { cache: MetadataCache; scan: number }>();
/** The cache answers each result was made from, with their port directories. */
const usedBy = new WeakMap<ScanResult, ReadonlyMap<CacheEntry, string>>();

/**
 * Adds to `out` the stat data of every file and directory a result was computed from, as its
 * scan saw them (see MetadataCache.recordInputs): while they are unchanged, so is the result.
 */
export function recordScanInputs(r: ScanResult, out: StatRecords): void {
  madeBy.get(r)?.cache.recordInputs(usedBy.get(r) ?? new Map(), out);
}

/**
 * No other scan of its cache began since this result was made, and the cache is still open:
 * with nothing changed since (the daemon's empty hint), scanning again would give this result.
 */
export function isLatestScan(r: ScanResult): boolean {
  const m = madeBy.get(r);
  return !!m && m.cache.scans === m.scan && [...openCaches.values()].includes(m.cache);
}

/** A current result (isLatestScan) handed out again for a scan that found nothing to do: same ports, stats of no work. */
export function unchangedScan(r: ScanResult): ScanResult {
  const m = madeBy.get(r)!;
  const again: ScanResult = {
    ...r,
    stats: { ...r.stats, makeCalls: 0, cached: 0, durationMs: 0, dirsRehashed: 0, filesRehashed: 0, stats: 0 },
  };
  madeBy.set(again, m);
  const used = usedBy.get(r);
  if (used) usedBy.set(again, used);
  return again;
}

/** Forgets the caches kept in memory: the next scan reads its cache file as a fresh process would. */
export function forgetOpenCaches(): void {
  openCaches.clear();
}

/** What a failed read of a port says, as a scan problem; undefined for anything else (a bug, a machine fault). */
function readProblem(e: unknown): { kind: ScanProblemKind; message: string } | undefined {
  if (e instanceof PortMetadataError) return { kind: 'make-failed', message: e.message };
  if (e instanceof MalformedDependencyError) return { kind: 'bad-depends', message: e.message };
  if (e instanceof CachedFailureError) return { kind: e.failure.kind, message: e.failure.message };
  return undefined;
}

/** A cached failure, thrown again on reuse. */
class CachedFailureError extends Error {
  constructor(readonly failure: CachedFailure) {
    super(failure.message);
  }
}

/** The ScannedPort of a cache entry: the same object as last time while nothing changed. */
function scannedOf(cache: MetadataCache, e: CacheEntry): ScannedPort {
  const prev = e.handedOut;
  if (prev && prev.portCrc === e.portCrc && prev.inputs === e.set.inputs) return prev;
  const meta = e.meta!;
  const { tree } = cache;
  const own = e.own ?? ['Makefile'];
  const set = e.set;
  const makefiles = () => [...own.map((f) => join(tree, meta.dir, f)), ...set.files.map((f) => f.abs)];
  return (e.handedOut = { meta, portCrc: e.portCrc, inputs: e.set.inputs, makefiles });
}

/** What each handed-out port was evaluated from (dir, requested flavor, vars): to read it again. */
const requestOf = new WeakMap<ScannedPort, PortRequest>();

/** What a port this process read was evaluated from (undefined for one it did not read). */
export const portRequest = (port: ScannedPort): PortRequest | undefined => requestOf.get(port);

/** Same origin, flavors and dependencies (origin and kind, in order): the closure around a re-read port is unchanged. */
export function sameShape(a: ScannedPort, b: ScannedPort): boolean {
  const x = a.meta.depends;
  const y = b.meta.depends;
  if (a.meta.origin !== b.meta.origin || x.length !== y.length || a.meta.flavors.join(' ') !== b.meta.flavors.join(' ')) return false;
  for (let i = 0; i < x.length; i++) if (x[i]!.origin !== y[i]!.origin || x[i]!.kind !== y[i]!.kind) return false;
  return true;
}

/**
 * The ports that changed paths (absolute files or directories) touch, through their own
 * directory or a file they read in another (a master port's Makefile); undefined when a path
 * could change more than those ports' answers: outside the tree, the tree or a category itself,
 * the framework, or a directory that was no port read (that of a `problems` origin: could not be
 * read) and may be one now.
 */
export function portsTouched<T>(
  tree: string,
  changed: Iterable<string>,
  ports: readonly T[],
  problems: Iterable<string>,
  /** A port's directory and input files (ScannedPort's meta.dir and inputs, or what stands for them: `readsUnder`). */
  read: (port: T) => { dir: string; inputs: unknown },
  /** Does a port's `inputs` name a file under one of the `prefixes` (asked once for inputs several ports share)? */
  readsUnder: (inputs: unknown, prefixes: readonly string[]) => boolean = (inputs, prefixes) =>
    Object.keys(inputs as Readonly<Record<string, string>>).some((k) => prefixes.some((prefix) => k.startsWith(prefix))),
): T[] | undefined {
  const dirs = new Set<string>();
  for (const p of changed) {
    const rel = relative(tree, p);
    const parts = rel.split(sep);
    if (rel.startsWith('..') || isAbsolute(rel) || parts.length < 2 || !isCategoryName(parts[0]!)) return undefined;
    dirs.add(`${parts[0]}/${parts[1]}`);
  }
  const portDirs = new Set(ports.map((p) => read(p).dir));
  for (const o of problems) if (dirs.has(parseOrigin(o).dir)) return undefined;
  for (const d of dirs) if (!portDirs.has(d)) return undefined;
  const touches = new Map<unknown, boolean>();
  const prefixes = [...dirs].map((d) => `${d}/`);
  const touched = (inputs: unknown) => {
    let t = touches.get(inputs);
    if (t === undefined) touches.set(inputs, (t = readsUnder(inputs, prefixes)));
    return t;
  };
  return ports.filter((port) => {
    const { dir, inputs } = read(port);
    return dirs.has(dir) || touched(inputs);
  });
}

/** Identity of the make settings: a cache made under other settings is not reused. */
export function settingsIdentity(s: MakeSettings): string {
  return JSON.stringify([s.command, s.portsTree, s.emptyLocalbase, s.env, s.vars, readerIdentity(s)]);
}

export async function scanPorts(roots: readonly string[], opts: ScanOptions): Promise<ScanResult> {
  const t0 = performance.now();
  const { settings } = opts;
  const tree = settings.portsTree;
  const cache = openCache(opts.cacheFile, tree, settingsIdentity(settings), settings.emptyLocalbase, opts.changed, opts.trusted);
  const limit = limiter(opts.concurrency ?? availableParallelism());
  const timeoutMs = opts.makeTimeoutMs ?? DEFAULT_MAKE_TIMEOUT_MS;
  const varsFor = opts.varsFor ?? (() => ({}));
  const ports = new Map<string, ScannedPort>();
  const problems = new Map<string, ScanProblem>();
  const resolved = new Map<string, Promise<string | undefined>>();
  let makeCalls = 0;
  /** Time make took, summed over the calls: what the next scan would spend again if this one's answers were not saved. */
  let makeMs = 0;
  // An incremental read keeps the previous result's answers (a superset is harmless: more to check).
  const used = new Map<CacheEntry, string>(opts.previous && opts.changed instanceof Set ? usedBy.get(opts.previous) : undefined);

  /**
   * The evaluations under way, by key: a port asked for twice before its answer is in (a
   * directory's flavors, read for a `dir@flavor` dependency, and the directory's own node) is
   * read by one make call.
   */
  const underWay = new Map<string, Promise<ScannedPort>>();

  /** Evaluates (dir, flavor) through the cache; throws PortMetadataError / MalformedDependencyError / CachedFailureError. */
  function evaluate(dir: string, flavor: string, vars: Record<string, string>): Promise<ScannedPort> {
    const key = `${dir}|${flavor}|${JSON.stringify(vars)}`;
    let p = underWay.get(key);
    if (!p) {
      p = evaluateOnce(key, dir, flavor, vars);
      underWay.set(key, p);
      const done = () => underWay.delete(key);
      p.then(done, done);
    }
    return p;
  }

  async function evaluateOnce(key: string, dir: string, flavor: string, vars: Record<string, string>): Promise<ScannedPort> {
    const hit = cache.answer(key, dir);
    if (hit) {
      used.set(hit, dir);
      if (hit.failure) throw new CachedFailureError(hit.failure);
      return remember(scannedOf(cache, hit), dir, flavor, vars);
    }
    const answer = await limit(async () => {
      const t = performance.now();
      const a = await queryPort(settings, dir, flavor, vars, timeoutMs);
      makeMs += performance.now() - t;
      return a;
    });
    makeCalls++;
    const portCrc = cache.portCrc(dir) ?? '';
    let parsed;
    let failure: CachedFailure | undefined;
    let error: unknown;
    try {
      parsed = parsePortAnswer(settings, dir, flavor, vars, answer);
    } catch (e) {
      if (e instanceof PortMetadataError) failure = { kind: 'make-failed', message: e.message };
      else if (e instanceof MalformedDependencyError) failure = { kind: 'bad-depends', message: e.message };
      else throw e;
      error = e;
    }
    // A hang may be the machine's, not the port's: not remembered.
    if (answer.timedOut !== undefined) throw error;
    // Even a failed answer is cached (keyed on the same inputs): an unchanged broken port is not re-run.
    // When make did not say what it read, every framework file counts as an input.
    const makefiles = parsed?.makefiles ?? makefilesOf(settings, dir, answer) ?? cache.frameworkListing().all;
    const portDir = join(tree, dir) + '/';
    const own: string[] = [];
    const others: string[] = [];
    for (const f of makefiles) (f.startsWith(portDir) ? own : others).push(f.startsWith(portDir) ? f.slice(portDir.length) : f);
    const entry: CacheEntry = { portCrc, set: cache.inputSet(others) };
    if (own.length !== 1 || own[0] !== 'Makefile') entry.own = own;
    if (parsed) entry.meta = parsed.meta;
    if (failure) entry.failure = failure;
    cache.store(key, entry);
    used.set(entry, dir);
    if (error) throw error;
    return remember(scannedOf(cache, entry), dir, flavor, vars);
  }

  function remember(port: ScannedPort, dir: string, flavor: string, vars: Record<string, string>): ScannedPort {
    requestOf.set(port, { dir, flavor, vars });
    return port;
  }

  /** The incremental read (ScanOptions.previous): undefined when the whole closure must be walked. */
  async function rereadHinted(prev: ScanResult, changed: ReadonlySet<string>): Promise<Map<string, ScannedPort> | undefined> {
    const touched = portsTouched(tree, changed, [...prev.ports.values()], prev.problems.keys(), (p) => ({
      dir: p.meta.dir,
      inputs: p.inputs,
    }));
    if (!touched) return undefined;
    opts.onReread?.(touched.map((p) => p.meta.origin));
    const next = new Map(prev.ports);
    for (const port of touched) {
      const req = requestOf.get(port);
      if (!req) return undefined;
      let fresh: ScannedPort;
      try {
        fresh = await evaluate(req.dir, req.flavor, req.vars);
      } catch {
        return undefined; // it fails now: the walk reports it where it belongs
      }
      if (!sameShape(port, fresh)) return undefined;
      next.set(port.meta.origin, fresh);
    }
    return next;
  }

  function problem(origin: string, kind: ScanProblemKind, message: string): undefined {
    problems.set(origin, { origin, kind, message });
    return undefined;
  }

  async function resolveOrigin(origin: string): Promise<string | undefined> {
    const { dir, flavor } = parseOrigin(origin);
    if (flavor) {
      const base = await baseOf(dir);
      if ('kind' in base) return problem(origin, base.kind, base.message);
      if (!base.flavors.includes(flavor)) {
        const has = base.flavors.length ? `its flavors are ${base.flavors.join(', ')}` : 'it has no flavors';
        return problem(origin, 'unknown-flavor', `${dir} has no flavor "${flavor}" (${has})`);
      }
      const canonical = canonicalOrigin(dir, flavor, base.flavors);
      // The default flavor is the port directory's own node.
      if (canonical === dir) return request(dir);
      return evaluateInto(canonical, dir, flavor, varsFor(origin));
    }
    if (cache.portCrc(dir) === null) return problem(origin, 'no-such-port', `no such port: ${dir} (no ${join(tree, dir, 'Makefile')})`);
    const canonical = await evaluateInto(dir, dir, '', varsFor(dir));
    if (canonical === undefined) return undefined;
    // Options given for `dir@<default flavor>` in builds.yaml belong to this same node.
    const meta = ports.get(canonical)!.meta;
    const flavoredVars = meta.flavors.length ? varsFor(`${dir}@${meta.flavors[0]}`) : {};
    if (Object.keys(flavoredVars).length) {
      ports.delete(canonical);
      return evaluateInto(dir, dir, meta.flavors[0]!, { ...varsFor(dir), ...flavoredVars });
    }
    return canonical;
  }

  /**
   * A port directory's flavors, read without making it a node: asking for `dir@flavor` does not
   * ask for the default flavor (nor for what it depends on).
   */
  const bases = new Map<string, Promise<{ flavors: string[] } | { kind: ScanProblemKind; message: string }>>();
  function baseOf(dir: string) {
    let p = bases.get(dir);
    if (!p) {
      p = (async () => {
        if (cache.portCrc(dir) === null)
          return { kind: 'no-such-port' as const, message: `no such port: ${dir} (no ${join(tree, dir, 'Makefile')})` };
        try {
          return { flavors: (await evaluate(dir, '', varsFor(dir))).meta.flavors };
        } catch (e) {
          const why = readProblem(e);
          if (why) return why;
          throw e;
        }
      })();
      bases.set(dir, p);
    }
    return p;
  }

  async function evaluateInto(label: string, dir: string, flavor: string, vars: Record<string, string>): Promise<string | undefined> {
    let port: ScannedPort;
    try {
      port = await evaluate(dir, flavor, vars);
    } catch (e) {
      const why = readProblem(e);
      if (why) return problem(label, why.kind, why.message);
      throw e;
    }
    ports.set(port.meta.origin, port);
    // Not awaited: a dependency cycle must not make two ports wait on each other.
    for (const d of port.meta.depends) void request(d.origin);
    return port.meta.origin;
  }

  function request(origin: string): Promise<string | undefined> {
    let p = resolved.get(origin);
    if (!p) {
      p = resolveOrigin(origin);
      resolved.set(origin, p);
    }
    return p;
  }

  const finish = (
    ports: Map<string, ScannedPort>,
    problems: Map<string, ScanProblem>,
    roots: string[],
    resolve: ScanResult['resolve'],
  ): ScanResult => {
    const frameworkFiles = cache.frameworkListing().files;
    if (savesDeferred) unsaved.add(cache);
    // (Writing costs more than redoing a few ports' make calls and CRCs next time: see estimatedSaveMs.)
    else if (makeMs + cache.stats.rehashMs >= cache.estimatedSaveMs()) cache.save();
    const result: ScanResult = {
      frameworkFiles,
      ports,
      problems,
      roots,
      resolve,
      stats: {
        ports: ports.size,
        makeCalls,
        cached: cache.stats.answersReused,
        durationMs: Math.round(performance.now() - t0),
        dirsRehashed: cache.stats.dirsRehashed,
        filesRehashed: cache.stats.filesRehashed,
        stats: cache.stats.stats,
      },
    };
    madeBy.set(result, { cache, scan: cache.scans });
    usedBy.set(result, used);
    return result;
  };

  const prev = opts.previous;
  if (prev && opts.changed instanceof Set) {
    const reread = await rereadHinted(prev, opts.changed);
    // The framework's scripts are every port's inputs: a different listing means the walk.
    if (reread && cache.frameworkListing().files === prev.frameworkFiles) return finish(reread, prev.problems, prev.roots, prev.resolve);
  }

  if (opts.only) {
    for (const r of opts.only) {
      const label = r.flavor ? `${r.dir}@${r.flavor}` : r.dir;
      try {
        const port = await evaluate(r.dir, r.flavor, r.vars);
        ports.set(port.meta.origin, port);
      } catch (e) {
        const why = readProblem(e);
        if (!why) throw e;
        problem(label, why.kind, why.message);
      }
    }
    return finish(ports, problems, [], (origin) => (ports.has(origin) ? origin : undefined));
  }

  const optional = opts.optional ?? new Set<string>();
  const keptRoots = roots.filter((o) => !optional.has(o) || cache.portCrc(parseOrigin(o).dir) !== null);
  for (const o of keptRoots) void request(o);
  // Requests keep adding requests (dependencies); wait until no new one appears.
  for (let seen = -1; seen !== resolved.size;) {
    seen = resolved.size;
    await Promise.all(resolved.values());
  }
  const final = new Map<string, string | undefined>();
  for (const [o, p] of resolved) final.set(o, await p);
  // A glob's `dir@flavor` whose port has no such flavor was never asked for by name: dropped.
  const notFlavored = keptRoots.filter((o) => optional.has(o) && problems.get(o)?.kind === 'unknown-flavor');
  for (const o of notFlavored) problems.delete(o);
  return finish(ports, problems, notFlavored.length ? keptRoots.filter((o) => !notFlavored.includes(o)) : keptRoots, (origin) =>
    final.get(origin),
  );
}

/**
 * Reading the part of a ports tree a desired state needs: starting from the requested origins,
 * evaluate each port (cached), follow its dependencies, and collect what went wrong on the way.
 * Make runs with bounded concurrency, started by the make runner (a small helper process: this
 * one never forks per make call), each call with a time limit; everything else is synchronous
 * and cheap.
 */
import { availableParallelism } from 'node:os';
import { join } from 'node:path';
import { MetadataCache, type CacheEntry, type CachedFailure } from './cache.js';
import { PortMetadataError, MalformedDependencyError } from './errors.js';
import { DEFAULT_MAKE_TIMEOUT_MS, makefilesOf, parsePortAnswer, queryPort, type MakeSettings } from './make.js';
import { canonicalOrigin, parseOrigin } from './origin.js';
import type { PortMeta } from './types.js';

export interface ScannedPort {
  meta: PortMeta;
  /** Content CRC of the port directory. */
  portCrc: string;
  /**
   * CRCs of the other files its metadata read (.MAKE.MAKEFILES outside its directory), by
   * tree-relative path (absolute outside the tree). Frozen, and ONE object for all ports that read
   * the same files at the same CRCs (memoize per set with a WeakMap).
   */
  inputs: Readonly<Record<string, string>>;
  /** Every makefile make read for it, absolute paths (derived on demand from the shared set: no per-port copy). */
  makefiles(): string[];
}

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
  stats: { ports: number; makeCalls: number; cached: number; durationMs: number; dirsRehashed: number; filesRehashed: number; stats: number };
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

function openCache(file: string | null, tree: string, settings: string, localbase: string, changed: ScanOptions['changed']): MetadataCache {
  const key = `${file}\0${tree}`;
  const open = file ? openCaches.get(key) : undefined;
  if (open && open.settings === settings) {
    open.beginScan(changed);
    return open;
  }
  const cache = MetadataCache.open(file, tree, settings, localbase);
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
  const again: ScanResult = { ...r, stats: { ...r.stats, makeCalls: 0, cached: 0, durationMs: 0, dirsRehashed: 0, filesRehashed: 0, stats: 0 } };
  madeBy.set(again, m);
  return again;
}

/** Forgets the caches kept in memory: the next scan reads its cache file as a fresh process would. */
export function forgetOpenCaches(): void {
  openCaches.clear();
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

/** Identity of the make settings: a cache made under other settings is not reused. */
export function settingsIdentity(s: MakeSettings): string {
  return JSON.stringify([s.command, s.portsTree, s.emptyLocalbase, s.env, s.vars]);
}

export async function scanPorts(roots: readonly string[], opts: ScanOptions): Promise<ScanResult> {
  const t0 = performance.now();
  const { settings } = opts;
  const tree = settings.portsTree;
  const cache = openCache(opts.cacheFile, tree, settingsIdentity(settings), settings.emptyLocalbase, opts.changed);
  const limit = limiter(opts.concurrency ?? availableParallelism());
  const timeoutMs = opts.makeTimeoutMs ?? DEFAULT_MAKE_TIMEOUT_MS;
  const varsFor = opts.varsFor ?? (() => ({}));
  const ports = new Map<string, ScannedPort>();
  const problems = new Map<string, ScanProblem>();
  const resolved = new Map<string, Promise<string | undefined>>();
  let makeCalls = 0;

  /** Evaluates (dir, flavor) through the cache; throws PortMetadataError / MalformedDependencyError / CachedFailureError. */
  async function evaluate(dir: string, flavor: string, vars: Record<string, string>): Promise<ScannedPort> {
    const key = `${dir}|${flavor}|${JSON.stringify(vars)}`;
    const hit = cache.answer(key, dir);
    if (hit) {
      if (hit.failure) throw new CachedFailureError(hit.failure);
      return scannedOf(cache, hit);
    }
    const answer = await limit(() => queryPort(settings, dir, flavor, vars, timeoutMs));
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
    if (error) throw error;
    return scannedOf(cache, entry);
  }

  function problem(origin: string, kind: ScanProblemKind, message: string): undefined {
    problems.set(origin, { origin, kind, message });
    return undefined;
  }

  async function resolveOrigin(origin: string): Promise<string | undefined> {
    const { dir, flavor } = parseOrigin(origin);
    if (flavor) {
      const base = await request(dir);
      if (base === undefined) return problem(origin, problems.get(dir)!.kind, problems.get(dir)!.message);
      const baseMeta = ports.get(base)!.meta;
      if (!baseMeta.flavors.includes(flavor)) {
        const has = baseMeta.flavors.length ? `its flavors are ${baseMeta.flavors.join(', ')}` : 'it has no flavors';
        return problem(origin, 'unknown-flavor', `${dir} has no flavor "${flavor}" (${has})`);
      }
      const canonical = canonicalOrigin(dir, flavor, baseMeta.flavors);
      if (canonical === dir) return dir;
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

  async function evaluateInto(label: string, dir: string, flavor: string, vars: Record<string, string>): Promise<string | undefined> {
    let port: ScannedPort;
    try {
      port = await evaluate(dir, flavor, vars);
    } catch (e) {
      if (e instanceof PortMetadataError) return problem(label, 'make-failed', e.message);
      if (e instanceof MalformedDependencyError) return problem(label, 'bad-depends', e.message);
      if (e instanceof CachedFailureError) return problem(label, e.failure.kind, e.failure.message);
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

  const optional = opts.optional ?? new Set<string>();
  const keptRoots = roots.filter((o) => !optional.has(o) || cache.portCrc(parseOrigin(o).dir) !== null);
  for (const o of keptRoots) void request(o);
  // Requests keep adding requests (dependencies); wait until no new one appears.
  for (let seen = -1; seen !== resolved.size; ) {
    seen = resolved.size;
    await Promise.all(resolved.values());
  }
  const final = new Map<string, string | undefined>();
  for (const [o, p] of resolved) final.set(o, await p);
  const frameworkFiles = cache.frameworkListing().files;
  if (savesDeferred) unsaved.add(cache);
  else cache.save();
  const result: ScanResult = {
    frameworkFiles,
    ports,
    problems,
    roots: keptRoots,
    resolve: (origin) => final.get(origin),
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
  return result;
}

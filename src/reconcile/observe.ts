/**
 * Observing the tree for a desired state: expand builds.yaml's selectors over the tree's
 * origins, read the closure (metadata cache first, make when needed), and build the graph.
 */
import { isAbsolute, join, relative, sep } from 'node:path';
import { matchSelectors } from '../config/selectors.js';
import type { DesiredState, PortSelector } from '../config/types.js';
import { buildGraph, withPorts, type PortGraph } from '../graph/graph.js';
import { findCycles, type Cycle } from '../graph/cycles.js';
import type { MakeSettings } from '../ports/make.js';
import { applyMakeProfile } from '../ports/profile.js';
import { isLatestScan, scanPorts, unchangedScan, type ScanResult, type TrustedPaths } from '../ports/scanner.js';
import { listPortDirs } from '../ports/tree.js';
import { mkdirSync } from 'node:fs';
import { UnknownOriginError } from './errors.js';

export interface Observation {
  state: DesiredState;
  /** Tree path the ports were read from (the work tree, or portsync's checkout in commit mode). */
  tree: string;
  scan: ScanResult;
  graph: PortGraph;
  cycles: Cycle[];
  /** Selectors by the origin they chose (origin as written or matched). */
  selected: Map<string, PortSelector>;
  /** Globs that matched nothing: worth a warning. */
  emptyGlobs: PortSelector[];
}

export function makeSettingsOf(state: DesiredState, tree = state.portsTree.path): MakeSettings {
  const emptyLocalbase = join(state.paths.buildBase, 'empty-localbase');
  mkdirSync(emptyLocalbase, { recursive: true });
  const settings: MakeSettings = {
    command: state.make.command,
    env: state.make.env,
    vars: state.make.vars,
    portsTree: tree,
    emptyLocalbase,
    ...(state.make.readAs ? { readAs: state.make.readAs } : {}),
  };
  // make.profile: the BSD system makefiles and the target's identity and probe results (generated once, by content).
  return state.make.profile ? applyMakeProfile(settings, state.make.profile, state.paths.buildBase) : settings;
}

export interface ObserveOptions {
  tree?: string;
  concurrency?: number;
  /** Origins to read as well, though builds.yaml does not ask for them (`why`). */
  extraRoots?: readonly string[];
  /** The daemon's hint: what may have changed since this process's previous scan (ScanOptions.changed). */
  changed?: ReadonlySet<string> | 'all';
  /** A fresh process's knowledge of what is unchanged since a known moment (ScanOptions.trusted). */
  trusted?: TrustedPaths;
  /** makeSettingsOf(state, tree), made already (who reads the tree is checked once per settings object). */
  settings?: MakeSettings;
  /** Told which ports the daemon's hint reads again, as their make calls begin (ScanOptions.onReread). */
  onReread?: (origins: readonly string[]) => void;
}

export async function observe(state: DesiredState, opts: ObserveOptions = {}): Promise<Observation> {
  const tree = opts.tree ?? state.portsTree.path;
  const extraRoots = opts.extraRoots ?? [];
  // The daemon's pass after a quiet interval: nothing changed since the last observation, which is still current.
  const prev = lastObservation.get(state);
  const samePrevious = prev && prev.obs.tree === tree && prev.extraRoots.join('\0') === extraRoots.join('\0');
  // (The hint covers what changed since the cache's last scan: that must be this observation's.)
  const current = samePrevious && isLatestScan(prev.obs.scan);
  if (current && opts.changed instanceof Set && opts.changed.size === 0) {
    const obs = { ...prev.obs, scan: unchangedScan(prev.obs.scan) };
    lastObservation.set(state, { ...prev, obs });
    return obs;
  }
  // The selection stands while no directory of the tree's first two levels (categories, ports) may have changed.
  const selection =
    current && opts.changed instanceof Set && !listingMayChange(tree, opts.changed) ? prev.selection : select(state, tree, extraRoots);
  const { selected, roots, globbed, emptyGlobs } = selection;
  const scan = await scanPorts(roots, {
    optional: globbed,
    settings: opts.settings ?? makeSettingsOf(state, tree),
    cacheFile: join(state.paths.buildBase, 'metadata-cache.json'),
    ...(opts.concurrency ? { concurrency: opts.concurrency } : {}),
    varsFor: (origin) => selected.get(origin)?.vars ?? {},
    ...(opts.changed ? { changed: opts.changed } : {}),
    ...(opts.trusted ? { trusted: opts.trusted } : {}),
    ...(opts.onReread ? { onReread: opts.onReread } : {}),
    // The same request as the last one, still current: only what the hint touches is read again.
    ...(current && selection === prev.selection ? { previous: prev.obs.scan } : {}),
  });
  // When the scan handed out exactly what it did last time, the graph is the same; when only
  // what some ports say changed (not their dependencies), it keeps its shape.
  const graph = (samePrevious && withPorts(prev.obs.graph, prev.obs.scan, scan)) || buildGraph(scan.roots, scan);
  const cycles = samePrevious && graph.shape === prev.obs.graph.shape ? prev.obs.cycles : findCycles(graph);
  const obs: Observation = { state, tree, scan, graph, cycles, selected, emptyGlobs: [...emptyGlobs, ...globsLeftEmpty(selected, scan)] };
  lastObservation.set(state, { obs, extraRoots, selection });
  return obs;
}

/** Throws UnknownOriginError for the first origin (as written on a command line) the observed closure lacks. */
export function assertInClosure(obs: Observation, origins: Iterable<string>): void {
  for (const o of origins) if (!obs.graph.nodes.has(obs.scan.resolve(o) ?? o)) throw new UnknownOriginError(o);
}

interface Selection {
  /** Selectors by the origin they chose (origin as written or matched). */
  selected: Map<string, PortSelector>;
  /** What the scan starts from: the selected origins and the extra roots. */
  roots: string[];
  /** Roots chosen by a glob (a directory without a Makefile among them is not a port). */
  globbed: Set<string>;
  emptyGlobs: PortSelector[];
}

/** builds.yaml's selectors over the tree's port directories. */
function select(state: DesiredState, tree: string, extraRoots: readonly string[]): Selection {
  const match = matchSelectors(listPortDirs(tree), state.ports);
  // An exact origin that is not in the tree stays a root: the scanner reports it as "no such port".
  const selected = new Map(match.selected);
  for (const sel of match.unmatched) if (!sel.isGlob) selected.set(sel.pattern, sel);
  const roots = [...new Set([...selected.keys(), ...extraRoots])];
  const globbed = new Set([...selected].filter(([, sel]) => sel.isGlob).map(([o]) => o));
  return { selected, roots, globbed, emptyGlobs: match.unmatched.filter((s) => s.isGlob) };
}

/**
 * Globs whose every match the scan dropped (directories that are no port, ports without the
 * glob's flavor): they select nothing either.
 */
function globsLeftEmpty(selected: ReadonlyMap<string, PortSelector>, scan: ScanResult): PortSelector[] {
  const kept = new Set(scan.roots);
  const globs = new Map<PortSelector, boolean>();
  for (const [origin, sel] of selected) if (sel.isGlob) globs.set(sel, (globs.get(sel) ?? false) || kept.has(origin));
  return [...globs].filter(([, any]) => !any).map(([sel]) => sel);
}

/** A changed path is the tree, a category or a port directory itself (or outside no listing depends on it). */
function listingMayChange(tree: string, changed: ReadonlySet<string>): boolean {
  for (const p of changed) {
    const rel = relative(tree, p);
    if (rel.startsWith('..') || isAbsolute(rel)) continue;
    if (rel === '' || rel.split(sep).length <= 2) return true;
  }
  return false;
}

/** The last observation of each desired state, the extra roots it was asked for, and its selection. */
const lastObservation = new WeakMap<DesiredState, { obs: Observation; extraRoots: readonly string[]; selection: Selection }>();

/**
 * Observing the tree for a desired state: expand builds.yaml's selectors over the tree's
 * origins, read the closure (metadata cache first, make when needed), and build the graph.
 */
import { join } from 'node:path';
import { matchSelectors } from '../config/selectors.js';
import type { DesiredState, PortSelector } from '../config/types.js';
import { buildGraph, type PortGraph } from '../graph/graph.js';
import { findCycles, type Cycle } from '../graph/cycles.js';
import type { MakeSettings } from '../ports/make.js';
import { applyMakeProfile } from '../ports/profile.js';
import { scanPorts, type ScanResult } from '../ports/scanner.js';
import { listPortDirs } from '../ports/tree.js';
import { mkdirSync } from 'node:fs';

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
  const settings: MakeSettings = { command: state.make.command, env: state.make.env, vars: state.make.vars, portsTree: tree, emptyLocalbase };
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
}

export async function observe(state: DesiredState, opts: ObserveOptions = {}): Promise<Observation> {
  const tree = opts.tree ?? state.portsTree.path;
  const match = matchSelectors(listPortDirs(tree), state.ports);
  // An exact origin that is not in the tree stays a root: the scanner reports it as "no such port".
  const selected = new Map(match.selected);
  for (const sel of match.unmatched) if (!sel.isGlob) selected.set(sel.pattern, sel);
  const roots = [...new Set([...selected.keys(), ...(opts.extraRoots ?? [])])];
  const globbed = new Set([...selected].filter(([, sel]) => sel.isGlob).map(([o]) => o));
  const scan = await scanPorts(roots, {
    optional: globbed,
    settings: makeSettingsOf(state, tree),
    cacheFile: join(state.paths.buildBase, 'metadata-cache.json'),
    ...(opts.concurrency ? { concurrency: opts.concurrency } : {}),
    varsFor: (origin) => selected.get(origin)?.vars ?? {},
    ...(opts.changed ? { changed: opts.changed } : {}),
  });
  const graph = buildGraph(scan.roots, scan);
  return { state, tree, scan, graph, cycles: findCycles(graph), selected, emptyGlobs: match.unmatched.filter((s) => s.isGlob) };
}

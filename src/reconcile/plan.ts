/**
 * The plan: for every port of the closure, build / skip / pending / ignored / blocked, with the
 * reasons. Ports are decided dependencies first; what a port saw of each dependency is part of
 * its key, counted as policy.cascade says (by default the dependency's package: a dependency
 * that rebuilds leaves its dependents `pending` until its package is known — early cutoff).
 */
import { readdirSync } from 'node:fs';
import { join } from 'node:path';
import type { DesiredState } from '../config/types.js';
import { computeBuildKey, unknownDependencies } from '../fingerprint/buildKey.js';
import { portableValue } from '../fingerprint/portable.js';
import type { BuildKeyParts, Cascade, DependencyFact } from '../fingerprint/types.js';
import { formatCycle } from '../graph/cycles.js';
import { neededToBuild } from '../graph/installs.js';
import { topologicalOrder } from '../graph/order.js';
import { decide, type KnownPortState, type Reason } from './decide.js';
import type { Observation } from './observe.js';

export type { KnownPortState, Reason } from './decide.js';

/** Bumped when the way portsync builds changes what a package contains. */
export const BUILD_FORMAT_VERSION = '1';

export type PlanAction = 'build' | 'skip' | 'pending' | 'ignored' | 'blocked';

export interface PlannedPort {
  origin: string;
  pkgname: string;
  version: string;
  action: PlanAction;
  reasons: Reason[];
  /** The build key; absent when the port could not be read, and while a dependency's package is still to be built. */
  buildKey?: string;
  keyParts?: BuildKeyParts;
  crc?: string;
  /** Package file name in the repository (`<packages>/All/<pkgfile>`). */
  pkgfile?: string;
  suspended?: boolean;
  /** pending: the dependencies whose packages decide. */
  waitingOn?: string[];
  /** What the scheduler needs to decide again once its dependencies are built (with Plan.known). */
  pkgExists?: boolean;
  forced?: boolean;
}

export interface PlanSummary { total: number; build: number; skip: number; pending: number; ignored: number; blocked: number }

export interface Plan {
  /** Dependencies first (ties by origin). */
  ports: PlannedPort[];
  summary: PlanSummary;
  cascade: Cascade;
  /** What the build database knew when the plan was made, by origin. */
  known: ReadonlyMap<string, KnownPortState>;
  /** Human-readable problems of the desired state (cycles, unreadable ports, unmatched globs). */
  problems: string[];
  /** Warnings make printed while exiting 0, by origin. */
  warnings: { origin: string; lines: string[] }[];
  observation: Observation;
}

export interface PlanOptions {
  known: ReadonlyMap<string, KnownPortState>;
  /** Origins to rebuild whatever their state (`--force`). */
  force?: ReadonlySet<string>;
  /** Every buildable port is forced (fetch-only passes). */
  forceAll?: boolean;
  /** Restrict the report to these origins (and their dependencies); the keys still cover the closure. */
  only?: ReadonlySet<string>;
}

/** The build environment's part of every key; paths in the project enter as portable names, never as host paths. */
export function environmentIdentity(state: DesiredState, tree: string): Record<string, string> {
  return {
    backend: state.environment.backend,
    makeCommand: state.make.command,
    makeEnv: JSON.stringify(Object.entries(state.make.env).map(([k, v]) => [k, portableValue(v, state, tree)]).sort()),
    format: BUILD_FORMAT_VERSION,
  };
}

/** The package files in the repository (`<packages>/All`): one readdir instead of a stat per port. */
function repositoryFiles(state: DesiredState): Set<string> {
  try {
    return new Set(readdirSync(join(state.paths.packages, 'All')));
  } catch {
    return new Set();
  }
}

export function makePlan(obs: Observation, opts: PlanOptions): Plan {
  const { graph, state } = obs;
  const force = opts.force ?? new Set<string>();
  const decided = new Map<string, PlannedPort>();
  const problems: string[] = [];
  const environment = environmentIdentity(state, obs.tree);
  const packages = repositoryFiles(state);
  const frameworkFiles = obs.scan.frameworkFiles;

  // Why a node cannot be built at all, before looking at the database.
  const blockedBy = new Map<string, Reason>();
  for (const c of obs.cycles) {
    problems.push(`dependency cycle: ${formatCycle(c)}`);
    for (const m of c.members) blockedBy.set(m, { kind: 'cycle', detail: `in a dependency cycle: ${formatCycle(c)}`, items: c.path });
  }
  for (const n of graph.nodes.values()) {
    if (n.problem) {
      const dependents = [...n.rdeps].sort();
      problems.push(`${n.problem.message}${dependents.length ? ` (needed by ${dependents.join(', ')})` : ''}`);
      blockedBy.set(n.origin, { kind: n.problem.kind, detail: n.problem.message });
    }
  }
  // Two ports writing one package file would overwrite each other: neither is built.
  const byPkgfile = new Map<string, string[]>();
  for (const n of graph.nodes.values()) {
    const m = n.port?.meta;
    if (!m || m.ignore || !m.pkgfile) continue;
    byPkgfile.set(m.pkgfile, [...(byPkgfile.get(m.pkgfile) ?? []), n.origin]);
  }
  for (const [pkgfile, origins] of byPkgfile) {
    if (origins.length < 2) continue;
    origins.sort();
    problems.push(`${origins.join(' and ')} both produce ${pkgfile}: give one of them another PKGNAME (PKGNAMESUFFIX, a flavor) or drop one from builds.yaml`);
    for (const o of origins) {
      blockedBy.set(o, { kind: 'duplicate-package', detail: `${pkgfile} is also the package of ${origins.filter((x) => x !== o).join(', ')}; two ports may not write one package`, items: origins });
    }
  }
  for (const sel of obs.emptyGlobs) problems.push(`${state.file}:${sel.line}:${sel.col}: "${sel.pattern}" matches no port`);

  // Dependencies first (the scheduler orders what it builds by how many ports wait on each).
  const order = topologicalOrder(graph, new Set(graph.nodes.keys()));
  const all = graph.nodes.keys();
  const inOrder = new Set(order);
  for (const o of [...all].sort()) if (!inOrder.has(o)) order.push(o); // cycle members and what hangs on them

  const cascade = state.policy.cascade;
  const globalVars = Object.fromEntries(Object.entries(state.make.vars).map(([k, v]) => [k, portableValue(v, state, obs.tree)]));
  for (const origin of order) {
    const node = graph.node(origin);
    const meta = node.port?.meta;
    const p: PlannedPort = { origin, pkgname: meta?.pkgname ?? '', version: meta?.version ?? '', action: 'blocked', reasons: [] };
    decided.set(origin, p);
    const own = blockedBy.get(origin);
    if (own || !node.port || !meta) {
      p.reasons.push(own ?? { kind: 'unreadable', detail: 'could not be read' });
      continue;
    }
    p.crc = node.port.portCrc;
    p.pkgfile = meta.pkgfile;
    if (obs.selected.get(origin)?.suspend) p.suspended = true;
    if (meta.ignore) {
      p.action = 'ignored';
      p.reasons.push({ kind: 'ignored', detail: meta.ignore });
      continue;
    }
    // Dependencies are decided first: an unbuildable one blocks this port, a rebuilding one is not known yet.
    const dependencies: Record<string, DependencyFact> = {};
    const stuck: Reason[] = [];
    for (const [dep, kinds] of [...node.deps].sort(([a], [b]) => (a < b ? -1 : 1))) {
      const d = decided.get(dep);
      if (!d || d.action === 'blocked') stuck.push({ kind: 'dependency-blocked', detail: `dependency ${dep} cannot be built${d?.reasons[0] ? `: ${d.reasons[0].detail}` : ''}`, items: [dep] });
      else if (d.action === 'ignored') stuck.push({ kind: 'dependency-ignored', detail: `dependency ${dep} is ignored: ${d.reasons[0]?.detail ?? ''}`, items: [dep] });
      else dependencies[dep] = dependencyFact(d, kinds.has('LIB'), neededToBuild(kinds), opts.known.get(dep));
    }
    const parts: BuildKeyParts = {
      portCrc: node.port.portCrc,
      makefiles: node.port.inputs,
      framework: frameworkFiles,
      vars: Object.keys(meta.vars).length ? { ...globalVars, ...meta.vars } : globalVars,
      options: meta.selectedOptions,
      environment,
      dependencies,
    };
    p.keyParts = parts;
    // Ports that are not decided still get their key when it is known (their dependents' facts name it).
    const keyIfKnown = () => (unknownDependencies(parts, cascade).length === 0 ? computeBuildKey(parts, cascade) : undefined);
    if (stuck.length) {
      p.buildKey = keyIfKnown();
      p.reasons.push(...stuck);
      continue;
    }
    const pkgExists = packages.has(meta.pkgfile);
    if (p.suspended) {
      p.buildKey = keyIfKnown();
      p.action = pkgExists ? 'skip' : 'blocked';
      p.reasons.push({ kind: 'suspended', detail: pkgExists ? 'suspended in builds.yaml: kept as is' : 'suspended in builds.yaml and it has no package' });
      continue;
    }
    const forced = force.has(origin) || (opts.forceAll ?? false);
    const decision = decide({ parts, known: opts.known.get(origin), cascade, pkgExists, pkgfile: meta.pkgfile, forced });
    // The decision computed the key (when every dependency's part is known): not computed twice.
    if ('key' in decision && decision.key) p.buildKey = decision.key;
    p.action = decision.action;
    p.reasons.push(...decision.reasons);
    if (decision.action === 'pending') p.waitingOn = decision.waitingOn;
    if (decision.action === 'build' || decision.action === 'pending') Object.assign(p, { pkgExists, forced });
  }

  let ports = order.map((o) => decided.get(o)!);
  if (opts.only?.size) {
    const wanted = new Set<string>();
    for (const o of opts.only) {
      const canonical = obs.scan.resolve(o) ?? o;
      if (!graph.nodes.has(canonical)) continue;
      wanted.add(canonical);
      for (const d of graph.dependenciesOf([canonical])) wanted.add(d);
    }
    ports = ports.filter((p) => wanted.has(p.origin));
  }
  const summary: PlanSummary = { total: ports.length, build: 0, skip: 0, pending: 0, ignored: 0, blocked: 0 };
  for (const p of ports) summary[p.action]++;
  const warnings = [...graph.nodes.values()]
    .filter((n) => n.port && n.port.meta.warnings.length)
    .map((n) => ({ origin: n.origin, lines: n.port!.meta.warnings }));
  return { ports, summary, cascade, known: opts.known, problems, warnings, observation: obs };
}

/**
 * What a port sees of a dependency that was decided before it: a dependency that rebuilds in
 * this pass (build or pending) is `pending` — its package is known only once it is built.
 */
function dependencyFact(d: PlannedPort, lib: boolean, build: boolean, known: KnownPortState | undefined): DependencyFact {
  const rebuilding = d.action === 'build' || d.action === 'pending';
  const pkg = rebuilding ? null : known?.package ?? null;
  return {
    use: build ? 'build' : 'run',
    ...(lib ? { lib: true } : {}),
    version: d.version,
    // The key of the build that made the package this port sees: its recorded one, unless it rebuilds now.
    key: (rebuilding ? d.buildKey : known?.buildKey ?? d.buildKey) ?? '',
    package: pkg?.identity ?? '',
    ...(lib && pkg ? { shlibs: pkg.shlibs } : {}),
    ...(rebuilding ? { pending: true } : {}),
  };
}

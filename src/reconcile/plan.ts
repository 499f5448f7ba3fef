/**
 * The plan: for every port of the closure, build / skip / ignored / blocked, with the reasons.
 * Build keys are computed dependencies first, so a dependency's changed inputs change its
 * dependents' keys (when policy.rebuildDependents is on) and every decision can be explained
 * by comparing the stored key parts with the current ones.
 */
import { readdirSync } from 'node:fs';
import { join } from 'node:path';
import type { DesiredState } from '../config/types.js';
import { computeBuildKey, diffKeyParts, reasonKindOf } from '../fingerprint/buildKey.js';
import type { BuildKeyParts } from '../fingerprint/types.js';
import { formatCycle } from '../graph/cycles.js';
import { topologicalOrder } from '../graph/order.js';
import type { Observation } from './observe.js';

/** Bumped when the way portsync builds changes what a package contains. */
export const BUILD_FORMAT_VERSION = '1';

export type PlanAction = 'build' | 'skip' | 'ignored' | 'blocked';

export interface Reason {
  kind: string;
  detail: string;
  /** The origins, files or variables concerned, when there are some. */
  items?: string[];
}

/** What the build database knows about a port (its last successful build, and a failure marker). */
export interface KnownPortState {
  buildKey: string | null;
  keyParts: BuildKeyParts | null;
  /** The key of inputs at which its last build failed (cleared by a success). */
  failedKey: string | null;
}

export interface PlannedPort {
  origin: string;
  pkgname: string;
  version: string;
  action: PlanAction;
  reasons: Reason[];
  /** Absent when the port could not be read. */
  buildKey?: string;
  keyParts?: BuildKeyParts;
  crc?: string;
  /** Package file in the repository. */
  pkgfile?: string;
  suspended?: boolean;
}

export interface PlanSummary { total: number; build: number; skip: number; ignored: number; blocked: number }

export interface Plan {
  /** Dependencies first (ties by origin). */
  ports: PlannedPort[];
  summary: PlanSummary;
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

export function environmentIdentity(state: DesiredState): Record<string, string> {
  return {
    backend: state.environment.backend,
    makeCommand: state.make.command,
    makeEnv: JSON.stringify(Object.entries(state.make.env).sort()),
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
  const environment = environmentIdentity(state);
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
  for (const sel of obs.emptyGlobs) problems.push(`${state.file}:${sel.line}:${sel.col}: "${sel.pattern}" matches no port`);

  // Dependencies first (the scheduler orders what it builds by how many ports wait on each).
  const order = topologicalOrder(graph, new Set(graph.nodes.keys()));
  const all = graph.nodes.keys();
  const inOrder = new Set(order);
  for (const o of [...all].sort()) if (!inOrder.has(o)) order.push(o); // cycle members and what hangs on them

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
    // Dependencies decide first: an unbuildable one blocks this port.
    const depKeys: Record<string, string> = {};
    const stuck: Reason[] = [];
    for (const dep of [...node.deps.keys()].sort()) {
      const d = decided.get(dep);
      if (!d || d.action === 'blocked') stuck.push({ kind: 'dependency-blocked', detail: `dependency ${dep} cannot be built${d?.reasons[0] ? `: ${d.reasons[0].detail}` : ''}`, items: [dep] });
      else if (d.action === 'ignored') stuck.push({ kind: 'dependency-ignored', detail: `dependency ${dep} is ignored: ${d.reasons[0]?.detail ?? ''}`, items: [dep] });
      else if (d.buildKey) depKeys[dep] = d.buildKey;
    }
    const parts: BuildKeyParts = {
      portCrc: node.port.portCrc,
      makefiles: { ...frameworkFiles, ...node.port.inputs },
      vars: { ...state.make.vars, ...meta.vars },
      options: meta.selectedOptions,
      environment,
      dependencies: state.policy.rebuildDependents ? depKeys : {},
    };
    p.keyParts = parts;
    p.buildKey = computeBuildKey(parts);
    if (stuck.length) {
      p.reasons.push(...stuck);
      continue;
    }
    const known = opts.known.get(origin);
    const pkgExists = packages.has(meta.pkgfile);
    if (p.suspended) {
      p.action = pkgExists ? 'skip' : 'blocked';
      p.reasons.push({ kind: 'suspended', detail: pkgExists ? 'suspended in builds.yaml: kept as is' : 'suspended in builds.yaml and it has no package' });
      continue;
    }
    if (force.has(origin) || opts.forceAll) {
      p.action = 'build';
      p.reasons.push({ kind: 'forced', detail: 'forced from the command line' });
      continue;
    }
    if (known?.failedKey && known.failedKey === p.buildKey) {
      p.reasons.push({ kind: 'failed', detail: 'failed at these inputs; change them or --force' });
      continue;
    }
    p.reasons.push(...rebuildReasons(known, parts, p.buildKey, pkgExists, meta.pkgfile));
    p.action = p.reasons.length ? 'build' : 'skip';
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
  const summary: PlanSummary = { total: ports.length, build: 0, skip: 0, ignored: 0, blocked: 0 };
  for (const p of ports) summary[p.action]++;
  const warnings = [...graph.nodes.values()]
    .filter((n) => n.port && n.port.meta.warnings.length)
    .map((n) => ({ origin: n.origin, lines: n.port!.meta.warnings }));
  return { ports, summary, problems, warnings, observation: obs };
}

/** Why a readable, unblocked port must be rebuilt; empty when it is up to date. */
export function rebuildReasons(known: KnownPortState | undefined, parts: BuildKeyParts, key: string, pkgExists: boolean, pkgfile: string): Reason[] {
  if (!known?.buildKey || !known.keyParts) return [{ kind: 'new', detail: 'never built' }];
  const reasons: Reason[] = [];
  if (known.buildKey !== key) {
    const changes = diffKeyParts(known.keyParts, parts);
    for (const c of changes) reasons.push({ kind: reasonKindOf(c), detail: c.detail, ...(c.items ? { items: c.items } : {}) });
    if (changes.length === 0) reasons.push({ kind: 'framework-changed', detail: 'build key changed (key format)' });
  }
  if (!pkgExists) reasons.push({ kind: 'package-missing', detail: `package ${pkgfile} is not in the repository` });
  return reasons;
}

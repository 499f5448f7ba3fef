/**
 * The plan: for every port of the closure, build / skip / pending / ignored / blocked, with the
 * reasons. Ports are decided dependencies first; what a port saw of each dependency is part of
 * its key, counted as policy.cascade says (by default the dependency's package: a dependency
 * that rebuilds leaves its dependents `pending` until its package is known — early cutoff).
 */
import { readdirSync } from 'node:fs';
import { join } from 'node:path';
import type { DesiredState } from '../config/types.js';
import { computeBuildKey, dependencyToken } from '../fingerprint/buildKey.js';
import { byOrigin } from '../fingerprint/byOrigin.js';
import { packageCheckCache, packageVerifier, type PackageVerifier } from '../fingerprint/packageCheck.js';
import { portableValue } from '../fingerprint/portable.js';
import type { BuildKeyParts, Cascade, DependencyFact } from '../fingerprint/types.js';
import { formatCycle } from '../graph/cycles.js';
import type { GraphNode, PortGraph } from '../graph/graph.js';
import { neededToBuild } from '../graph/installs.js';
import { topologicalOrder } from '../graph/order.js';
import { decide, KeyPartsNotReadError, type Decision, type KnownPortState, type Reason } from './decide.js';
import { completed, partsUnread, readKeyParts, type KeyPartsReader } from './known.js';
import type { Observation } from './observe.js';
import type { OrphanPackage } from './orphans.js';
import { plannedPrune } from './prune.js';
import type { ScannedPort } from '../ports/types.js';
import type { DepKind } from '../ports/types.js';

export type { KnownPortState, Reason } from './decide.js';

/** Bumped when the way portsync builds changes what a package contains. */
export const BUILD_FORMAT_VERSION = '1';

export type PlanAction = 'build' | 'skip' | 'pending' | 'ignored' | 'blocked';

/** What every planned port says. */
interface PlannedCommon {
  origin: string;
  pkgname: string;
  version: string;
  reasons: Reason[];
  /** The build key; absent when the port could not be read, and while a dependency's package is still to be built. */
  buildKey?: string;
  keyParts?: BuildKeyParts;
  crc?: string;
  /** Package file name in the repository (`<packages>/All/<pkgfile>`). */
  pkgfile?: string;
  suspended?: boolean;
}

/** A port to build, or (pending) to decide again once its dependencies are built: what the scheduler needs for that (with Plan.known). */
export interface PlannedWork extends PlannedCommon {
  action: 'build' | 'pending';
  keyParts: BuildKeyParts;
  crc: string;
  pkgfile: string;
  pkgExists: boolean;
  pkgIntact?: boolean;
  forced: boolean;
  /** pending: the dependencies whose packages decide. */
  waitingOn?: string[];
}

/** Up to date, ignored, or blocked (an unreadable port has no parts). */
export interface PlannedRest extends PlannedCommon {
  action: 'skip' | 'ignored' | 'blocked';
}

export type PlannedPort = PlannedWork | PlannedRest;

/** A port being decided (decideAnew): what every planned port says, and what a port to build says as it is learnt. */
type Deciding = PlannedCommon & { action: PlanAction } & Partial<Pick<PlannedWork, 'pkgExists' | 'pkgIntact' | 'forced' | 'waitingOn'>>;

/**
 * The port decided: `p` with its action. A port to build or pending has its key parts, CRC,
 * package file, and whether its package exists and it is forced (decideAnew sets them first).
 */
function withAction(p: Deciding, action: PlanAction): PlannedPort {
  p.action = action;
  return p as PlannedPort;
}

/** Is the port to be built or decided again in the pass? */
export const isPlannedWork = (p: PlannedPort): p is PlannedWork => p.action === 'build' || p.action === 'pending';

/** `prune` counts package files, not ports (`total` does not include them). */
export interface PlanSummary {
  total: number;
  build: number;
  skip: number;
  pending: number;
  ignored: number;
  blocked: number;
  prune: number;
}

export interface Plan {
  /** Dependencies first (ties by origin). */
  ports: PlannedPort[];
  summary: PlanSummary;
  /** Packages a pass would remove from the repository (policy.prune; full plans only). */
  prune: OrphanPackage[];
  cascade: Cascade;
  /** What the build database knew when the plan was made, by origin. */
  known: ReadonlyMap<string, KnownPortState>;
  /** Human-readable problems of the desired state (cycles, unreadable ports, unmatched globs). */
  problems: string[];
  /** Warnings make printed while exiting 0, by origin. */
  warnings: { origin: string; lines: string[] }[];
  observation: Observation;
  /**
   * Ports decided without the recorded key parts their decision compares (their known state came
   * without them): provisionally `build`. makePlanReadingParts reads them and plans again.
   */
  keyPartsNotRead: string[];
}

export interface PlanOptions {
  known: ReadonlyMap<string, KnownPortState>;
  /** Origins to rebuild whatever their state (`--force`). */
  force?: ReadonlySet<string>;
  /** Every buildable port is forced (fetch-only passes). */
  forceAll?: boolean;
  /** Restrict the report to these origins (and their dependencies); the keys still cover the closure. */
  only?: ReadonlySet<string>;
  /**
   * A previous plan's decisions and the observation they were made from, with the build database
   * and the repository unchanged since (a kept plan: reconcile/kept-observation.ts). A port read
   * as the very same object, with the same problem of its own, keeps its decision (up to date,
   * ignored or blocked) while no dependency's decision changed for it.
   */
  carried?: CarriedPlan;
}

export interface CarriedPlan {
  decisions: ReadonlyMap<string, PlannedPort>;
  observation: Observation;
  /** What the build database knew then (without key parts): it has not changed since. */
  known: ReadonlyMap<string, KnownPortState>;
}

/** The build environment's part of every key; paths in the project enter as portable names, never as host paths. */
export function environmentIdentity(state: DesiredState, tree: string): Record<string, string> {
  return {
    backend: state.environment.backend,
    makeCommand: state.make.command,
    makeEnv: JSON.stringify(
      Object.entries(state.make.env)
        .map(([k, v]) => [k, portableValue(v, state, tree)])
        .sort(),
    ),
    format: BUILD_FORMAT_VERSION,
  };
}

/** The verifier's cache is only a speed-up: not being able to write it costs hashing again next time. */
function saveQuietly(verifier: PackageVerifier): void {
  try {
    verifier.save();
  } catch {
    // read-only build base (plan run by another user): verified again next time
  }
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
  const keyContext = keyContextOf(obs, opts.known, state.policy.cascade);
  const packages = repositoryFiles(state);
  const verifier = packageVerifier(packageCheckCache(state.paths.buildBase));
  const frameworkFiles = obs.scan.frameworkFiles;

  // Why a node cannot be built at all, before looking at the database.
  const { problems: graphProblems, blockedBy } = unbuildable(obs);
  problems.push(...graphProblems);
  for (const sel of obs.emptyGlobs) problems.push(`${state.file}:${sel.line}:${sel.col}: "${sel.pattern}" matches no port`);

  const { order, acyclic } = planOrder(graph);

  const cascade = state.policy.cascade;
  // A port whose inputs are the very objects of the previous plan keeps its decision (the daemon's passes).
  const memo = opts.forceAll ? undefined : planMemo(state, obs.tree, cascade, frameworkFiles);
  const entries = new Map<string, MemoEntry>();
  const stale = new Set<string>();
  const keyPartsNotRead: string[] = [];
  for (let i = 0; i < order.length; i++) {
    const origin = order[i]!;
    const node = graph.node(origin);
    const meta = node.port?.meta;
    const own = blockedBy.get(origin);
    const known = opts.known.get(origin);
    const before = memo?.entries.get(origin);
    // A carried decision stands on the kept plan's inputs: nothing of this port is looked at again.
    const carried = before ? undefined : opts.carried?.decisions.get(origin);
    if (carried && i < acyclic && !stale.has(origin) && stillCarried(opts.carried!, carried, node, own)) {
      decided.set(origin, carried);
      continue;
    }
    const pkgExists = meta ? packages.has(meta.pkgfile) : false;
    // (Written out, not spread from another object: made for thousands of ports per plan.)
    const entry: MemoEntry = {
      port: node.port,
      own: own?.detail,
      suspended: obs.selected.get(origin)?.suspend ?? false,
      pkgExists,
      pkgIntact:
        pkgExists && known?.package?.checksum
          ? verifier.matches(join(state.paths.packages, 'All', meta!.pkgfile), known.package.checksum)
          : undefined,
      forced: force.has(origin),
      known,
      deps: node.deps,
      planned: undefined!,
    };
    if (before && i < acyclic && !stale.has(origin) && sameInputs(before, entry) && sameDeps(before.deps, node.deps)) {
      entries.set(origin, before);
      decided.set(origin, before.planned);
      continue;
    }
    entries.set(origin, entry);
    const p = decideAnew(
      { origin, pkgname: meta?.pkgname ?? '', version: meta?.version ?? '', action: 'blocked', reasons: [] },
      entry,
      node,
      own,
    );
    decided.set(origin, (entry.planned = p));
    // What depends on it is decided anew too — unless all it sees of this port is as before.
    const previous = before?.planned ?? carried;
    if (!previous || (before && before.known !== known) || !sameForDependents(previous, p)) for (const r of node.rdeps) stale.add(r);
  }

  /**
   * Decides a port whose inputs (or a dependency's decision) changed, from what every planned
   * port says (`p`): its fields are set on `p`, which is returned (objects are not spread again:
   * thousands of ports are decided per plan).
   */
  function decideAnew(p: Deciding, entry: MemoEntry, node: GraphNode, own: Reason | undefined): PlannedPort {
    const meta = node.port?.meta;
    const { known, pkgExists } = entry;
    if (own || !node.port || !meta) {
      p.reasons.push(own ?? { kind: 'unreadable', detail: 'could not be read' });
      return withAction(p, 'blocked');
    }
    p.crc = node.port.portCrc;
    p.pkgfile = meta.pkgfile;
    if (entry.suspended) p.suspended = true;
    if (meta.ignore) {
      p.reasons.push({ kind: 'ignored', detail: meta.ignore });
      return withAction(p, 'ignored');
    }
    // Dependencies are decided first: an unbuildable one blocks this port, a rebuilding one is not known yet.
    const { parts, stuck, waiting } = keyPartsOf(node, node.port, keyContext, decided);
    p.keyParts = parts;
    // Ports that are not decided still get their key when it is known (their dependents' facts name it).
    const setKeyIfKnown = () => {
      if (waiting.length === 0) p.buildKey = computeBuildKey(parts, cascade);
    };
    if (stuck.length) {
      setKeyIfKnown();
      for (const r of stuck) p.reasons.push(r);
      return withAction(p, 'blocked');
    }
    if (p.suspended) {
      setKeyIfKnown();
      p.reasons.push({
        kind: 'suspended',
        detail: pkgExists ? 'suspended in builds.yaml: kept as is' : 'suspended in builds.yaml and it has no package',
      });
      return withAction(p, pkgExists ? 'skip' : 'blocked');
    }
    const forced = entry.forced || (opts.forceAll ?? false);
    let decision: Decision;
    try {
      decision = decide({
        parts,
        waiting,
        known,
        cascade,
        pkgExists,
        ...(entry.pkgIntact !== undefined ? { pkgIntact: entry.pkgIntact } : {}),
        pkgfile: meta.pkgfile,
        forced,
        asBuiltKey: () => {
          if (keptAsBuilt(opts.carried, node, known, decided, opts.known)) return known!.buildKey!;
          const asBuilt = partsAsBuilt(parts, opts.known);
          return asBuilt && computeBuildKey(asBuilt, cascade);
        },
      });
    } catch (e) {
      if (!(e instanceof KeyPartsNotReadError)) throw e;
      // Its own inputs changed: decided again once its recorded parts are read (makePlanReadingParts);
      // meanwhile it rebuilds, as it most likely will, so that what depends on it waits on it.
      keyPartsNotRead.push(p.origin);
      decision = {
        action: 'build',
        reasons: [{ kind: 'port-changed', detail: 'its recorded key parts are still to be read' }],
        ...(e.key ? { key: e.key } : {}),
      };
    }
    // The decision computed the key (when every dependency's part is known): not computed twice.
    if ('key' in decision && decision.key) p.buildKey = decision.key;
    for (const r of decision.reasons) p.reasons.push(r);
    if (decision.action === 'skip' || decision.action === 'blocked') return withAction(p, decision.action);
    p.pkgExists = pkgExists;
    p.forced = forced;
    if (entry.pkgIntact !== undefined) p.pkgIntact = entry.pkgIntact;
    if (decision.action === 'pending') p.waitingOn = decision.waitingOn;
    return withAction(p, decision.action);
  }

  // (A plan that carried decisions has memo entries for the others only: the next one carries them again, or decides them.)
  if (!opts.forceAll) plans.set(state, { tree: obs.tree, cascade, frameworkFiles, entries });
  saveQuietly(verifier);

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
  // Pruning is about the whole desired state: a plan of some origins (or a fetch) prunes nothing.
  const prune =
    state.policy.prune && !opts.only?.size && !opts.forceAll
      ? plannedPrune(
          packages,
          order.map((o) => ({ origin: o, pkgfile: graph.node(o).port?.meta.pkgfile, suspended: obs.selected.get(o)?.suspend ?? false })),
          opts.known,
        )
      : [];
  const summary: PlanSummary = { total: ports.length, build: 0, skip: 0, pending: 0, ignored: 0, blocked: 0, prune: prune.length };
  for (const p of ports) summary[p.action]++;
  const warnings = [...graph.nodes.values()]
    .filter((n) => n.port && n.port.meta.warnings.length)
    .map((n) => ({ origin: n.origin, lines: n.port!.meta.warnings }));
  return { ports, summary, prune, cascade, known: opts.known, problems, warnings, observation: obs, keyPartsNotRead };
}

/**
 * A plan from known states that may lack their recorded key parts (knownFromRows of rows read
 * without them: a whole tree's states in a quarter of the time, and tens of MB less). Only a port
 * whose own inputs changed compares its recorded parts. With the memo of a previous plan (the
 * daemon), the few ports it will decide anew for their own sake get their parts read first, and
 * the plan is made once; otherwise (or for what that missed) the ports whose decision asked for
 * them get them (`readParts`) and the plan is made again, which decides again only them and what
 * depends on them (the memo).
 */
export async function makePlanReadingParts(obs: Observation, opts: PlanOptions, readParts: KeyPartsReader): Promise<Plan> {
  const { carried } = opts;
  const cascade = obs.state.policy.cascade;
  // From a kept plan, what it found up to date needs no read: its parts are the ones that plan saw.
  const reader: KeyPartsReader = !carried
    ? readParts
    : async (origins) => {
        const kept = partsFromCarried(carried, origins, cascade);
        const rest = origins.filter((o) => !kept.has(o));
        return rest.length ? new Map([...kept, ...(await readParts(rest))]) : kept;
      };
  const read = async (known: ReadonlyMap<string, KnownPortState>, origins: readonly string[]) =>
    new Map([...known, ...(await readKeyParts(known, origins, reader))]);
  let known = completed(opts.known);
  const anew = decidedAnewForThemselves(obs, { ...opts, known });
  if (anew?.some((o) => partsUnread(known.get(o)))) known = await read(known, anew);
  const first = makePlan(obs, { ...opts, known });
  if (!first.keyPartsNotRead.length) return first;
  const plan = makePlan(obs, { ...opts, known: await read(known, first.keyPartsNotRead) });
  if (plan.keyPartsNotRead.length) throw new Error(`internal: key parts of ${plan.keyPartsNotRead.join(', ')} still not read`);
  return plan;
}

/**
 * A carried decision stands for a node read as the same object, with the same problem of its
 * own (cycles and duplicate package files depend on other ports), that was not to be built: a
 * port to build or pending is decided anew (its key parts are not kept).
 */
function stillCarried(carried: CarriedPlan, p: PlannedPort, node: GraphNode, own: Reason | undefined): boolean {
  if (p.action === 'build' || p.action === 'pending') return false;
  const then = carried.observation.graph.nodes.get(node.origin);
  return !!then && then.port === node.port && unbuildable(carried.observation).blockedBy.get(node.origin)?.detail === own?.detail;
}

/** At most this many ports' parts are read before a plan (a memo that changed more is no better than none). */
const READ_AHEAD_MAX = 256;

/**
 * The ports the memo of the previous plan would not keep for their own sake (their metadata or
 * recorded state is another object), when there is such a memo and they are few; else undefined.
 */
function decidedAnewForThemselves(obs: Observation, opts: PlanOptions): string[] | undefined {
  if (opts.forceAll) return undefined;
  const memo = planMemo(obs.state, obs.tree, obs.state.policy.cascade, obs.scan.frameworkFiles);
  const carried = opts.carried?.observation.graph.nodes;
  if (!memo && !carried) return undefined;
  const out: string[] = [];
  for (const node of obs.graph.nodes.values()) {
    const e = memo?.entries.get(node.origin);
    const then = e ?? carried?.get(node.origin);
    if (then && then.port === node.port && (!e || e.known === opts.known.get(node.origin))) continue;
    if (out.push(node.origin) > READ_AHEAD_MAX) return undefined;
  }
  return out;
}

/** The graph's own problems (cycles, unreadable ports, two ports with one package file) and the nodes they block. Once per graph. */
const unbuildables = new WeakMap<PortGraph, { problems: string[]; blockedBy: Map<string, Reason> }>();
function unbuildable(obs: Observation): { problems: readonly string[]; blockedBy: ReadonlyMap<string, Reason> } {
  const { graph } = obs;
  const memo = unbuildables.get(graph);
  if (memo) return memo;
  const problems: string[] = [];
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
    const same = byPkgfile.get(m.pkgfile);
    if (same) same.push(n.origin);
    else byPkgfile.set(m.pkgfile, [n.origin]);
  }
  for (const [pkgfile, origins] of byPkgfile) {
    if (origins.length < 2) continue;
    origins.sort();
    problems.push(
      `${origins.join(' and ')} both produce ${pkgfile}: give one of them another PKGNAME (PKGNAMESUFFIX, a flavor) or drop one from builds.yaml`,
    );
    for (const o of origins) {
      blockedBy.set(o, {
        kind: 'duplicate-package',
        detail: `${pkgfile} is also the package of ${origins.filter((x) => x !== o).join(', ')}; two ports may not write one package`,
        items: origins,
      });
    }
  }
  unbuildables.set(graph, { problems, blockedBy });
  return { problems, blockedBy };
}

/**
 * Dependencies first, ties by origin; then, sorted, the cycle members and what hangs on them
 * (`acyclic` is where those start: a port there may come before a dependency). Once per graph shape.
 */
const orders = new WeakMap<object, { order: readonly string[]; acyclic: number }>();
export function planOrder(graph: PortGraph): { order: readonly string[]; acyclic: number } {
  let memo = orders.get(graph.shape);
  if (!memo) {
    const order = topologicalOrder(graph, new Set(graph.nodes.keys()));
    const acyclic = order.length;
    const inOrder = new Set(order);
    for (const o of [...graph.nodes.keys()].sort()) if (!inOrder.has(o)) order.push(o);
    orders.set(graph.shape, (memo = { order, acyclic }));
  }
  return memo;
}

/** The plan order of a graph, as planOrder made it for a graph of the same shape (a kept observation's). */
export function rememberPlanOrder(graph: PortGraph, order: readonly string[], acyclic: number): void {
  orders.set(graph.shape, { order, acyclic });
}

/** What a port's own decision is made from, compared by identity or value. */
interface DecisionInputs {
  port: ScannedPort | undefined;
  own: string | undefined;
  suspended: boolean;
  pkgExists: boolean;
  pkgIntact: boolean | undefined;
  forced: boolean;
  known: KnownPortState | undefined;
}

/** A decision and what it was made from; a dependency decided anew makes it stale. */
interface MemoEntry extends DecisionInputs {
  deps: ReadonlyMap<string, ReadonlySet<string>>;
  planned: PlannedPort;
}

interface PlanMemo {
  tree: string;
  cascade: Cascade;
  frameworkFiles: Readonly<Record<string, string>>;
  entries: Map<string, MemoEntry>;
}

/** The last plan of each desired state: reused port by port while the state, tree, cascade and framework files are the same. */
const plans = new WeakMap<DesiredState, PlanMemo>();

function planMemo(state: DesiredState, tree: string, cascade: Cascade, frameworkFiles: PlanMemo['frameworkFiles']): PlanMemo | undefined {
  const m = plans.get(state);
  return m && m.tree === tree && m.cascade === cascade && m.frameworkFiles === frameworkFiles ? m : undefined;
}

function sameDeps(a: ReadonlyMap<string, ReadonlySet<string>>, b: ReadonlyMap<string, ReadonlySet<string>>): boolean {
  if (a === b) return true;
  if (a.size !== b.size) return false;
  const bk = b.keys();
  for (const [k, x] of a) {
    const y = b.get(k);
    if (bk.next().value !== k || !y || x.size !== y.size) return false;
    for (const kind of x) if (!y.has(kind)) return false;
  }
  return true;
}

/** What every key of a plan shares, the recorded states its dependency facts come from, and how they count (the cascade). */
interface KeyContext {
  frameworkFiles: Readonly<Record<string, string>>;
  globalVars: Record<string, string>;
  environment: Record<string, string>;
  known: ReadonlyMap<string, KnownPortState>;
  cascade: Cascade;
}

function keyContextOf(obs: Observation, known: ReadonlyMap<string, KnownPortState>, cascade: Cascade): KeyContext {
  const { state, tree } = obs;
  return {
    frameworkFiles: obs.scan.frameworkFiles,
    globalVars: Object.fromEntries(Object.entries(state.make.vars).map(([k, v]) => [k, portableValue(v, state, tree)])),
    environment: environmentIdentity(state, tree),
    known,
    cascade,
  };
}

/**
 * A port's key parts, from its dependencies' decisions (`decided`, made before it); the
 * dependencies that stop it (one that cannot be built, or is ignored); and those whose part of
 * its key is not known yet (`waiting`: unknownDependencies of the parts). A dependency that
 * rebuilds is a pending fact (its package is not known yet). The parts' dependency facts are put
 * together when read: a port pending on a rebuilt dependency (thousands, above a hub tool) is
 * decided from `waiting` alone.
 */
function keyPartsOf(
  node: GraphNode,
  port: ScannedPort,
  ctx: KeyContext,
  decided: ReadonlyMap<string, PlannedPort>,
): { parts: BuildKeyParts; stuck: Reason[]; waiting: string[] } {
  const stuck: Reason[] = [];
  const waiting: string[] = [];
  const deps = sortedDeps(node.deps);
  // (Indexed: a loop over pairs that destructures them makes an iterator per pair, for thousands of ports.)
  for (let i = 0; i < deps.length; i++) {
    const { origin: dep, variant } = deps[i]!;
    const d = decided.get(dep);
    if (!d || d.action === 'blocked') stuck.push(blockedByDependency(dep, d));
    else if (d.action === 'ignored')
      stuck.push({
        kind: 'dependency-ignored',
        detail: `dependency ${dep} is ignored: ${d.reasons[0]?.detail ?? ''}`,
        items: [dep],
        root: `${dep} is ignored: ${d.reasons[0]?.detail ?? ''}`,
      });
    else if (dependencyToken(dependencyFact(d, variant, ctx.known.get(dep)), ctx.cascade) === undefined) waiting.push(dep);
  }
  const dependencies = () => {
    const facts = byOrigin<DependencyFact>();
    for (let i = 0; i < deps.length; i++) {
      const { origin: dep, variant } = deps[i]!;
      const d = decided.get(dep);
      if (d && d.action !== 'blocked' && d.action !== 'ignored') facts[dep] = dependencyFact(d, variant, ctx.known.get(dep));
    }
    return facts;
  };
  return { parts: partsWith(port, ctx, dependencies), stuck, waiting };
}

/** A port's key parts; its dependency facts (`dependencies`) are made when first read. */
function partsWith(port: ScannedPort, ctx: KeyContext, dependencies: () => Record<string, DependencyFact>): BuildKeyParts {
  const { meta } = port;
  let facts: Record<string, DependencyFact> | undefined;
  // (Dropped once used: what makes the facts holds the whole plan's decisions, which a daemon's
  // memo of these parts would otherwise keep alive.)
  let make: (() => Record<string, DependencyFact>) | undefined = dependencies;
  return {
    portCrc: port.portCrc,
    // Read when the key is computed or the parts compared: a port of a kept plan makes its input
    // files only then, and thousands of pending ports never need them.
    get makefiles() {
      return port.inputs;
    },
    framework: ctx.frameworkFiles,
    vars: Object.keys(meta.vars).length ? { ...ctx.globalVars, ...meta.vars } : ctx.globalVars,
    options: meta.selectedOptions,
    environment: ctx.environment,
    get dependencies() {
      if (!facts) {
        facts = make!();
        make = undefined;
      }
      return facts;
    },
  };
}

/**
 * The recorded key parts of ports of a kept plan, without reading the database: a port whose
 * last build saw it as the kept plan did, with each dependency as that one's last build made it
 * (an up-to-date port; a pending one), has those parts — the same key proves it, the key being
 * a digest of every part. Ports this cannot tell are left out (their parts are read).
 */
function partsFromCarried(carried: CarriedPlan, origins: readonly string[], cascade: Cascade): Map<string, KnownPortState> {
  const out = new Map<string, KnownPortState>();
  const { observation, known } = carried;
  const { nodes } = observation.graph;
  let ctx: KeyContext | undefined;
  next: for (const origin of origins) {
    const k = known.get(origin);
    const node = nodes.get(origin);
    if (!k?.buildKey || !node?.port) continue;
    const dependencies = byOrigin<DependencyFact>();
    for (const { origin: dep, variant } of sortedDeps(node.deps)) {
      const version = nodes.get(dep)?.port?.meta.version;
      const last = known.get(dep);
      if (version === undefined || !last?.buildKey) continue next;
      dependencies[dep] = asLastBuilt(baseFact(version, '', variant), last);
    }
    const parts = partsWith(node.port, (ctx ??= keyContextOf(observation, known, cascade)), () => dependencies);
    if (computeBuildKey(parts, cascade) === k.buildKey) out.set(origin, { ...k, keyParts: parts });
  }
  return out;
}

/** What a dependent sees of a dependency of these kinds: a shared library (2) and needed to build (1), added. */
type FactVariant = number;
const variantOf = (kinds: ReadonlySet<DepKind>): FactVariant => (kinds.has('LIB') ? 2 : 0) + (neededToBuild(kinds) ? 1 : 0);

/** A node's dependencies by origin, sorted (the key's parts list them in order), with their variant: once per dependency map. */
const sortedDepLists = new WeakMap<GraphNode['deps'], { origin: string; variant: FactVariant }[]>();
function sortedDeps(deps: GraphNode['deps']): { origin: string; variant: FactVariant }[] {
  let list = sortedDepLists.get(deps);
  if (!list) {
    list = [];
    for (const [origin, kinds] of deps) list.push({ origin, variant: variantOf(kinds) });
    list.sort((a, b) => (a.origin < b.origin ? -1 : 1));
    sortedDepLists.set(deps, list);
  }
  return list;
}

/**
 * All that dependents read of a port's decision (dependencyFact; blockedByDependency and the
 * ignored reason read its first reason): the same, they keep theirs.
 */
function sameForDependents(a: PlannedPort, b: PlannedPort): boolean {
  if (a.action !== b.action || a.buildKey !== b.buildKey || a.version !== b.version) return false;
  if (a.action !== 'blocked' && a.action !== 'ignored') return true;
  const x = a.reasons[0];
  const y = b.reasons[0];
  return x?.kind === y?.kind && x?.detail === y?.detail && x?.root === y?.root;
}

function sameInputs(e: DecisionInputs, now: DecisionInputs): boolean {
  return (
    e.port === now.port &&
    e.own === now.own &&
    e.suspended === now.suspended &&
    e.pkgExists === now.pkgExists &&
    e.pkgIntact === now.pkgIntact &&
    e.forced === now.forced &&
    e.known === now.known
  );
}

/**
 * A dependency that cannot be built, and the first port down its chain that is the cause: the
 * chain itself is not repeated (on a real tree one ignored compiler blocks thousands of ports,
 * each through dozens of others).
 */
function blockedByDependency(dep: string, d: PlannedPort | undefined): Reason {
  const first = d?.reasons[0];
  if (!first)
    return { kind: 'dependency-blocked', detail: `dependency ${dep} cannot be built`, items: [dep], root: `${dep} cannot be built` };
  const inherited = (first.kind === 'dependency-blocked' || first.kind === 'dependency-ignored') && first.root;
  const root = inherited || `${dep}: ${first.detail}`;
  const detail = inherited ? `dependency ${dep} cannot be built (because ${root})` : `dependency ${dep} cannot be built: ${first.detail}`;
  return { kind: 'dependency-blocked', detail, items: [dep], root };
}

/**
 * What a port sees of a dependency that was decided before it: a dependency that rebuilds in
 * this pass (build or pending) is `pending` — its package is known only once it is built. One
 * object per (decision, recorded state, kind of dependency), shared by every dependent: facts are
 * never changed after they are made.
 */
const facts = new WeakMap<PlannedPort, { known: KnownPortState | undefined; byKind: (DependencyFact | undefined)[] }>();
function dependencyFact(d: PlannedPort, variant: FactVariant, known: KnownPortState | undefined): DependencyFact {
  let m = facts.get(d);
  if (!m || m.known !== known) facts.set(d, (m = { known, byKind: [] }));
  return (m.byKind[variant] ??= makeDependencyFact(d, variant, known));
}

function makeDependencyFact(d: PlannedPort, variant: FactVariant, known: KnownPortState | undefined): DependencyFact {
  const fact = baseFact(d.version, d.buildKey ?? '', variant);
  // It rebuilds now: its key (when known) and no package yet; else the package its last build made.
  return d.action === 'build' || d.action === 'pending' ? { ...fact, pending: true } : asLastBuilt(fact, known);
}

/** What a dependent sees of a dependency at this version and key, before its package is known. */
function baseFact(version: string, key: string, variant: FactVariant): DependencyFact {
  const fact: DependencyFact = { use: variant & 1 ? 'build' : 'run', version, key, package: '' };
  if (variant & 2) fact.lib = true;
  return fact;
}

/** A dependency's fact as the package its last build made: that build's key, the package's identity and shared libraries. */
function asLastBuilt(fact: DependencyFact, known: KnownPortState | undefined): DependencyFact {
  const { pending: _p, ...f } = fact;
  const pkg = known?.package ?? null;
  return { ...f, key: known?.buildKey ?? f.key, package: pkg?.identity ?? '', ...(f.lib && pkg ? { shlibs: pkg.shlibs } : {}) };
}

/**
 * Were a port's parts, with each rebuilding dependency as its last build made it, those a kept
 * plan found up to date (so their key is the one its last build recorded, not computed again)?
 * So they are when it was up to date then, is read as the same object now (its own inputs), and
 * every dependency has the version it had then, which is that of its last build.
 */
function keptAsBuilt(
  carried: CarriedPlan | undefined,
  node: GraphNode,
  known: KnownPortState | undefined,
  decided: ReadonlyMap<string, PlannedPort>,
  knownAll: ReadonlyMap<string, KnownPortState>,
): boolean {
  const then = carried?.decisions.get(node.origin);
  if (!then || then.action !== 'skip' || !known?.buildKey || then.buildKey !== known.buildKey) return false;
  const nodesThen = carried!.observation.graph.nodes;
  if (nodesThen.get(node.origin)?.port !== node.port) return false;
  for (const dep of node.deps.keys()) {
    const version = decided.get(dep)?.version;
    if (version === undefined || version !== nodesThen.get(dep)?.port?.meta.version || version !== knownAll.get(dep)?.version) return false;
  }
  return true;
}

/** The parts with each pending dependency as its last build made it; undefined when one's version is not that build's (decide's asBuilt). */
function partsAsBuilt(parts: BuildKeyParts, known: ReadonlyMap<string, KnownPortState>): BuildKeyParts | undefined {
  const dependencies = byOrigin<BuildKeyParts['dependencies'][string]>();
  for (const [origin, fact] of Object.entries(parts.dependencies)) {
    if (typeof fact === 'string' || !fact.pending) {
      dependencies[origin] = fact;
      continue;
    }
    const k = known.get(origin);
    if (!k?.buildKey || k.version !== fact.version) return undefined;
    dependencies[origin] = asLastBuilt(fact, k);
  }
  return { ...parts, dependencies };
}

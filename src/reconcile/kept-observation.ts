/**
 * The observation a kept plan was made from, stored beside it (plan-snapshot.ts) in a compact
 * form: what the planner reads of every port (its metadata, CRCs and input files, its request),
 * the graph's edges, cycles and problems. When the kept plan's check finds that only files of a
 * few ports changed — a Makefile edited, a patch added — a fresh `portsync plan` reads just those
 * ports again (a make call each), puts them into the kept observation, and plans with the kept
 * decisions carried over (PlanOptions.carried): only those ports and what depends on them are
 * decided anew. Loading the metadata cache and walking the whole tree (most of a fresh plan's
 * time on a real tree) is skipped.
 *
 * Anything else that changed — the framework, a category's listing, builds.yaml, the build
 * database, the repository, a port that could not be read or now reads other dependencies —
 * means a full plan, as without a kept plan.
 */
import type { DesiredState, PortSelector } from '../config/types.js';
import type { StatRecords, StoredStatRecords } from '../fingerprint/statRecords.js';
import type { Cycle } from '../graph/cycles.js';
import { PortGraph, withPorts, type GraphNode } from '../graph/graph.js';
import {
  portRequest,
  portsTouched,
  recordScanInputs,
  sameShape,
  scanPorts,
  type PortRequest,
  type ScanProblem,
  type ScanResult,
} from '../ports/scanner.js';
import { canonicalOrigin } from '../ports/origin.js';
import { DEP_KINDS, type DepKind, type PortMeta, type ScannedPort } from '../ports/types.js';
import type { BuildKeyParts } from '../fingerprint/types.js';
import type { Observation } from './observe.js';
import { checkReader, type MakeSettings } from '../ports/make.js';
import { KEY_PARTS_NOT_READ, type KnownPortState } from './decide.js';
import { planOrder, rememberPlanOrder, type CarriedPlan, type PlannedPort } from './plan.js';
import { jsonBytes, type KeptObservation } from './plan-snapshot.js';
import { planLines } from './result-json.js';

/** Bumped when the stored form changes (an older one is not read: the plan is made in full). */
const FORMAT = 4;

/**
 * What planning reads of a port's metadata: [dir, flavor, flavors, pkgname, version, pkgfile
 * (what follows the pkgname, when it begins with it: a short string the JSON parser makes once),
 * ignore, selected options, warnings, vars (0: none), dependencies (StoredDependency)].
 * Not kept (not planning inputs): distfiles, deselected options, dependency targets as written.
 */
type StoredMeta = [
  string,
  string,
  string[],
  string,
  string,
  string | [string],
  string,
  string[],
  string[],
  Record<string, string> | 0,
  StoredDependency[],
];

/**
 * A dependency: `node index * 8 + kind index` when its origin is a graph node (it is, once the
 * graph is built: a number is read without making a string), else `<kind index><origin>`.
 */
type StoredDependency = number | string;

/** Node indices by origin, to store dependencies by (StoredDependency). */
type NodeIndex = ReadonlyMap<string, number>;

/** [metadata, port CRC, input set (its index; a patch's own inputs), requested flavor, requested vars (0: none)] */
type StoredPort = [StoredMeta, string, number | Record<string, string>, string, Record<string, string> | 0];

function storePort(port: ScannedPort, req: PortRequest, inputs: StoredPort[2], nodes: NodeIndex): StoredPort {
  return [storeMeta(port.meta, nodes), port.portCrc, inputs, req.flavor, Object.keys(req.vars).length ? req.vars : 0];
}

const NO_VARS: Record<string, string> = Object.freeze({}) as Record<string, string>;

function storeMeta(m: PortMeta, nodes: NodeIndex): StoredMeta {
  const vars = Object.keys(m.vars).length ? m.vars : 0;
  const depends = m.depends.map((d): StoredDependency => {
    const kind = DEP_KINDS.indexOf(d.kind);
    const node = nodes.get(d.origin);
    return node === undefined ? `${kind}${d.origin}` : node * 8 + kind;
  });
  // (A pkgfile that does not begin with the pkgname is kept whole, in an array.)
  const pkgfile: StoredMeta[5] = m.pkgfile.startsWith(m.pkgname) ? m.pkgfile.slice(m.pkgname.length) : [m.pkgfile];
  return [m.dir, m.flavor, m.flavors, m.pkgname, m.version, pkgfile, m.ignore, m.selectedOptions, m.warnings, vars, depends];
}

/**
 * A kept port's metadata (what StoredMeta leaves out is empty). A class: an object literal with a
 * getter of its own costs several times as much to make, and a kept plan makes ten thousand.
 */
class KeptMeta implements PortMeta {
  readonly origin: string;
  readonly dir: string;
  readonly flavor: string;
  readonly flavors: string[];
  readonly pkgname: string;
  readonly version: string;
  readonly pkgfile: string;
  readonly distfiles: string[] = [];
  readonly distSubdir = '';
  readonly ignore: string;
  readonly selectedOptions: string[];
  readonly deselectedOptions: string[] = [];
  readonly warnings: string[];
  readonly vars: Record<string, string>;
  readonly #depends: StoredDependency[];
  readonly #origins: readonly string[];
  #made: PortMeta['depends'] | undefined;

  constructor(s: StoredMeta, origins: readonly string[]) {
    [this.dir, this.flavor, this.flavors, this.pkgname, this.version, , this.ignore, this.selectedOptions, this.warnings] = s;
    this.pkgfile = typeof s[5] === 'string' ? this.pkgname + s[5] : s[5][0];
    this.origin = canonicalOrigin(this.dir, this.flavor, this.flavors);
    this.vars = s[9] || NO_VARS;
    this.#depends = s[10];
    this.#origins = origins;
  }

  /** Made when read (only a port read again compares them): the graph's edges are kept as such. */
  get depends(): PortMeta['depends'] {
    return (this.#made ??= this.#depends.map((d) =>
      typeof d === 'number'
        ? { kind: DEP_KINDS[d & 7]!, target: '', origin: this.#origins[d >> 3]!, raw: '' }
        : { kind: DEP_KINDS[d.charCodeAt(0) - 48]!, target: '', origin: d.slice(1), raw: '' },
    ));
  }
}

/** A kept port: its makefile list is not kept (planning does not read it); its input files are made when read. */
class KeptPort implements ScannedPort {
  constructor(
    readonly meta: PortMeta,
    readonly portCrc: string,
    private readonly set: StoredPort[2],
    private readonly sets: InputSets,
  ) {}

  get inputs(): Readonly<Record<string, string>> {
    return this.sets.of(this.set);
  }

  makefiles(): string[] {
    throw new Error(`internal: ${this.meta.origin} comes from a kept plan, which keeps no makefile list`);
  }
}

export interface StoredObservation {
  format: number;
  frameworkFiles: Record<string, string>;
  roots: string[];
  /** Graph nodes, in the graph's order. */
  origins: string[];
  /** Per node: its port, or (not read) its problem [kind, message]. */
  ports: (StoredPort | [ScanProblem['kind'], string])[];
  /** Per node: [node index, kind bits (DEP_KINDS order)] of each dependency, flat. */
  deps: number[][];
  /** Input file names (`ScannedPort.inputs` keys), once each. */
  names: string[];
  /** Input sets: [name indices, their CRCs concatenated (8 hex digits each)]. */
  sets: [number[], string][];
  cycles: Cycle[];
  emptyGlobs: PortSelector[];
  /** The selectors that suspend a port, by origin (all makePlan reads of the selection). */
  suspended: [string, PortSelector][];
  /** The plan order (planOrder): node indices, and where the cycles' part begins. */
  order: [number[], number];
  /** What the build database knew, without key parts: while its file is unchanged (the kept plan's check), it knows the same. */
  known: [string, Omit<KnownPortState, 'keyParts'>][];
}

/** The stored form of an observation; undefined when a port's request is not known (not kept). */
function storeObservation(obs: Observation, known: ReadonlyMap<string, KnownPortState>): StoredObservation | undefined {
  const { graph } = obs;
  const index = new Map<string, number>();
  for (const o of graph.nodes.keys()) index.set(o, index.size);
  const order = planOrder(graph);
  const names = new Map<string, number>();
  const sets = new Map<object, number>();
  const out: StoredObservation = {
    format: FORMAT,
    frameworkFiles: obs.scan.frameworkFiles,
    roots: graph.roots,
    origins: [...graph.nodes.keys()],
    ports: [],
    deps: [],
    names: [],
    sets: [],
    cycles: obs.cycles,
    emptyGlobs: obs.emptyGlobs,
    suspended: [...obs.selected].filter(([, sel]) => sel.suspend),
    order: [order.order.map((o) => index.get(o)!), order.acyclic],
    known: [...known].map(([origin, { keyParts: _, ...k }]) => [origin, k]),
  };
  const setOf = (inputs: Readonly<Record<string, string>>): number => {
    let i = sets.get(inputs);
    if (i === undefined) {
      const idx: number[] = [];
      let crcs = '';
      for (const [name, crc] of Object.entries(inputs)) {
        if (crc.length !== 8) return -1;
        let n = names.get(name);
        if (n === undefined) names.set(name, (n = out.names.push(name) - 1));
        idx.push(n);
        crcs += crc;
      }
      sets.set(inputs, (i = out.sets.push([idx, crcs]) - 1));
    }
    return i;
  };
  for (const node of graph.nodes.values()) {
    const deps: number[] = [];
    for (const [dep, kinds] of node.deps) {
      let bits = 0;
      for (const k of kinds) bits |= 1 << DEP_KINDS.indexOf(k);
      deps.push(index.get(dep)!, bits);
    }
    out.deps.push(deps);
    const port = node.port;
    if (!port) {
      out.ports.push([node.problem?.kind ?? 'no-such-port', node.problem?.message ?? `no such port: ${node.origin}`]);
      continue;
    }
    const req = portRequest(port);
    const set = setOf(port.inputs);
    if (!req || set < 0) return undefined;
    out.ports.push(storePort(port, req, set, index));
  }
  return out;
}

/**
 * What changed since the base was stored: the ports read again ([node index, the port now]),
 * and the recorded key parts the plan had (read from the database, or known from the kept plan),
 * valid while the database is unchanged: a plan that compares them again reads none.
 */
interface Patches {
  ports: [number, StoredPort][];
  parts: [string, BuildKeyParts][];
}

/** At most this many ports' recorded parts are kept (a few KB each): beyond that they are read when needed. */
const KEPT_PARTS_MAX = 256;

function partsToKeep(known: ReadonlyMap<string, KnownPortState>): Patches['parts'] {
  const out: Patches['parts'] = [];
  for (const [origin, k] of known) {
    if (!k.buildKey || k.keyParts === KEY_PARTS_NOT_READ || k.keyParts === null) continue;
    if (out.push([origin, k.keyParts]) >= KEPT_PARTS_MAX) break;
  }
  return out;
}

/** The stored form of an observation: a base (serialized) and no ports read since; undefined when it cannot be kept. */
export function keptObservation(obs: Observation, known: ReadonlyMap<string, KnownPortState>): Omit<KeptObservation, 'stored'> | undefined {
  const stored = storeObservation(obs, known);
  return stored && { base: jsonBytes(stored), patches: { ports: [], parts: partsToKeep(known) } satisfies Patches };
}

/**
 * The kept input sets, each made into its object when first read: a plan from the kept one reads
 * those of the ports it decides again, not the ten thousand others'.
 */
class InputSets {
  private readonly made = new Map<number, Readonly<Record<string, string>>>();
  private readonly own = new WeakMap<Record<string, string>, Readonly<Record<string, string>>>();
  /** The names under some prefixes (by their index), once per list of prefixes. */
  private readonly namesUnder = new WeakMap<readonly string[], Set<number>>();
  constructor(private readonly stored: StoredObservation) {}

  /** A stored port's input files: one frozen object per set (a patch's own). */
  of(set: StoredPort[2]): Readonly<Record<string, string>> {
    if (typeof set !== 'number') {
      let o = this.own.get(set);
      if (!o) this.own.set(set, (o = Object.freeze({ ...set })));
      return o;
    }
    let o = this.made.get(set);
    if (!o) {
      const [idx, crcs] = this.stored.sets[set]!;
      const made: Record<string, string> = {};
      for (let i = 0; i < idx.length; i++) made[this.stored.names[idx[i]!]!] = crcs.slice(8 * i, 8 * i + 8);
      this.made.set(set, (o = Object.freeze(made)));
    }
    return o;
  }

  /** Does a stored port's input set name a file under one of `prefixes`? Asked without making it. */
  readsUnder(set: StoredPort[2], prefixes: readonly string[]): boolean {
    const under = (name: string) => prefixes.some((prefix) => name.startsWith(prefix));
    if (typeof set !== 'number') return Object.keys(set).some(under);
    let names = this.namesUnder.get(prefixes);
    if (!names) {
      names = new Set<number>();
      for (let n = 0; n < this.stored.names.length; n++) if (under(this.stored.names[n]!)) names.add(n);
      this.namesUnder.set(prefixes, names);
    }
    if (names.size === 0) return false;
    for (const n of this.stored.sets[set]![0]) if (names.has(n)) return true;
    return false;
  }
}

/** The stored observation with its patches applied, and its input sets; undefined when not kept or of another format. */
function readStored(kept: KeptObservation): { stored: StoredObservation; sets: InputSets; patches: Patches } | undefined {
  const stored = kept.stored as StoredObservation | null;
  const patches = kept.patches as Patches | null;
  // (null: not kept; another format: an older portsync's)
  if (stored?.format !== FORMAT || !Array.isArray(patches?.ports) || !Array.isArray(patches.parts)) return undefined;
  for (const [i, port] of patches.ports) stored.ports[i] = port;
  return { stored, sets: new InputSets(stored), patches };
}

/** What the database knew, as known states without their key parts but those kept (the stored objects themselves, read for this plan). */
function knownOf(stored: StoredObservation, parts: Patches['parts']): Map<string, KnownPortState> {
  const known = new Map<string, KnownPortState>();
  for (const [origin, k] of stored.known) {
    const state = k as KnownPortState;
    state.keyParts = KEY_PARTS_NOT_READ;
    known.set(origin, state);
  }
  for (const [origin, p] of parts) {
    const state = known.get(origin);
    if (state) state.keyParts = p;
  }
  return known;
}

/** The kinds of a dependency, from their bits: one set per combination (a graph's kinds are not changed once it is built). */
const kindSets = new Map<number, Set<DepKind>>();
function kindsOf(bits: number): Set<DepKind> {
  let kinds = kindSets.get(bits);
  if (!kinds) kindSets.set(bits, (kinds = new Set(DEP_KINDS.filter((_, k) => bits & (1 << k)))));
  return kinds;
}

/**
 * The graph's edges as a kept observation stores them: each node's dependencies (node index,
 * kind bits), and who needs each node (indices, made once). A node's Map and Set of them are
 * made when first read: a plan from a kept one reads those of the ports it decides again, not
 * of the ten thousand it carries.
 */
class KeptEdges {
  /** Who needs node i: needers[from[i] .. from[i + 1]). */
  private index: { from: Int32Array; needers: Int32Array } | undefined;
  constructor(private readonly stored: StoredObservation) {}

  depsOf(i: number): Map<string, Set<DepKind>> {
    const deps = this.stored.deps[i]!;
    const out = new Map<string, Set<DepKind>>();
    for (let j = 0; j < deps.length; j += 2) out.set(this.stored.origins[deps[j]!]!, kindsOf(deps[j + 1]!));
    return out;
  }

  rdepsOf(i: number): Set<string> {
    const { from, needers } = (this.index ??= this.reversed());
    const out = new Set<string>();
    for (let k = from[i]!; k < from[i + 1]!; k++) out.add(this.stored.origins[needers[k]!]!);
    return out;
  }

  private reversed(): { from: Int32Array; needers: Int32Array } {
    const { deps } = this.stored;
    const from = new Int32Array(deps.length + 1);
    for (const d of deps) for (let j = 0; j < d.length; j += 2) from[d[j]! + 1]!++;
    for (let i = 0; i < deps.length; i++) from[i + 1]! += from[i]!;
    const at = from.slice(0, deps.length);
    const needers = new Int32Array(from[deps.length]!);
    // (Nodes in order: each node's needers come in the order buildGraph would have added them.)
    for (let i = 0; i < deps.length; i++) for (let j = 0; j < deps[i]!.length; j += 2) needers[at[deps[i]![j]!]!++] = i;
    return { from, needers };
  }
}

/** A node of a kept observation's graph: its edges are made when read (KeptEdges). */
class KeptNode implements GraphNode {
  port?: ScannedPort;
  problem?: ScanProblem;
  #deps: Map<string, Set<DepKind>> | undefined;
  #rdeps: Set<string> | undefined;
  constructor(
    readonly origin: string,
    private readonly at: number,
    private readonly edges: KeptEdges,
  ) {}

  get deps(): Map<string, Set<DepKind>> {
    return (this.#deps ??= this.edges.depsOf(this.at));
  }

  get rdeps(): Set<string> {
    return (this.#rdeps ??= this.edges.rdepsOf(this.at));
  }
}

/** The observation a stored one describes, for planning only: what StoredMeta leaves out is empty, and ports have no makefile list. */
function loadObservation(stored: StoredObservation, sets: InputSets, state: DesiredState, tree: string): Observation {
  const graph = new PortGraph();
  const ports = new Map<string, ScannedPort>();
  const problems = new Map<string, ScanProblem>();
  const edges = new KeptEdges(stored);
  for (let i = 0; i < stored.origins.length; i++) {
    const node = new KeptNode(stored.origins[i]!, i, edges);
    graph.nodes.set(node.origin, node);
    const s = stored.ports[i]!;
    if (s.length === 2) {
      node.problem = { origin: node.origin, kind: s[0], message: s[1] };
      problems.set(node.origin, node.problem);
    } else {
      const [meta, portCrc, set] = s;
      const port = new KeptPort(new KeptMeta(meta, stored.origins), portCrc, set, sets);
      node.port = port;
      ports.set(node.origin, port);
    }
  }
  graph.roots.push(...stored.roots);
  rememberPlanOrder(
    graph,
    stored.order[0].map((i) => stored.origins[i]!),
    stored.order[1],
  );
  const scan: ScanResult = {
    frameworkFiles: Object.freeze(stored.frameworkFiles),
    ports,
    problems,
    roots: stored.roots,
    resolve: (origin) => (graph.nodes.has(origin) ? origin : undefined),
    stats: { ports: ports.size, makeCalls: 0, cached: 0, durationMs: 0, dirsRehashed: 0, filesRehashed: 0, stats: 0 },
  };
  return {
    state,
    tree,
    scan,
    graph,
    cycles: stored.cycles,
    selected: new Map(stored.suspended),
    emptyGlobs: stored.emptyGlobs,
  };
}

/** A kept plan's decisions, as the planner carries them (PlanOptions.carried): its lines, read when asked; undefined when it is not a plan. */
function decisionsOf(printed: Buffer): Map<string, PlannedPort> | undefined {
  const lines = planLines(printed);
  if (!lines) return undefined;
  const out = new Map<string, PlannedPort>();
  for (const p of lines) {
    if (p.action !== 'skip' && p.action !== 'ignored' && p.action !== 'blocked') continue; // decided anew (planner)
    // The line as it is: a planned port but that its pkgfile is null when it has none (planJson writes either as null).
    out.set(p.origin, p as unknown as PlannedPort);
  }
  return out;
}

/** What a plan from a kept one starts from. */
export interface KeptStart {
  /** The kept observation with the changed ports read again. */
  observation: Observation;
  /** The kept decisions, and what the build database knew then and still knows (carried.known). */
  carried: CarriedPlan;
  /** The observation to keep with the new plan, made with `known` (the recorded parts it read are kept too). */
  keep(known: ReadonlyMap<string, KnownPortState>): Omit<KeptObservation, 'stored'>;
  /** Adds the stat records of what the new plan was made from (for the next kept plan). */
  recordInputs(out: StatRecords): void;
}

/** A kept plan's stored observation, decoded (the ports some changes touch are found there). */
export interface KeptStored {
  stored: StoredObservation;
  sets: InputSets;
  patches: Patches;
  base: Uint8Array;
}

/** The kept observation, decoded; undefined when there is none (an older portsync's, or none kept). */
export function keptStored(observation: KeptObservation): KeptStored | undefined {
  const read = readStored(observation);
  return read && { ...read, base: observation.base };
}

/** A kept plan read: its observation and decisions, as they were (what changed since is not needed to read them). */
export interface KeptRead extends KeptStored {
  /** The observation the kept plan was made from. */
  before: Observation;
  decisions: Map<string, PlannedPort>;
}

/** The kept plan's observation and decisions, made; undefined when its printed plan is damaged (plan in full). */
export function readKept(state: DesiredState, tree: string, kept: KeptStored, plan: Buffer): KeptRead | undefined {
  const decisions = decisionsOf(plan);
  return decisions && { ...kept, before: loadObservation(kept.stored, kept.sets, state, tree), decisions };
}

/** The ports some changed paths touch (their node indices) and how each was asked for. */
interface Touched {
  touched: number[];
  requests: PortRequest[];
}

/** The make calls that read again the ports some changes touch, begun. */
export interface Rereading extends Touched {
  /** The changed paths they were found from. */
  changed: readonly string[];
  result: Promise<ScanResult>;
}

/** The ports the changed paths touch; undefined when a change reaches beyond the ports the kept plan read (plan in full). */
function touchedBy(read: KeptStored, tree: string, changed: Iterable<string>): Touched | undefined {
  const { stored, sets } = read;
  const readable = stored.ports.flatMap((s, i) => (s.length === 2 ? [] : [i]));
  const problems = stored.ports.flatMap((s, i) => (s.length === 2 ? [stored.origins[i]!] : []));
  const touched = portsTouched(
    tree,
    changed,
    readable,
    problems,
    (i) => {
      const s = stored.ports[i] as StoredPort;
      return { dir: s[0][0], inputs: s[2] };
    },
    (set, prefixes) => sets.readsUnder(set as StoredPort[2], prefixes),
  );
  if (!touched) return undefined;
  const requests = touched.map((i): PortRequest => {
    const [meta, , , flavor, vars] = stored.ports[i] as StoredPort;
    return { dir: meta[0], flavor, vars: vars || {} };
  });
  return { touched, requests };
}

function reread(t: Touched, changed: readonly string[], settings: MakeSettings): Rereading {
  // (Who reads the tree is checked first, this thread going on meanwhile: the scan would check it at once.)
  const result = checkReader(settings).then(() => scanPorts([], { settings, cacheFile: null, only: t.requests }));
  result.catch(() => {}); // (awaited by observeFromKept)
  return { ...t, changed, result };
}

/**
 * Begins reading again the ports that the changes found so far touch (undefined: none found, or
 * one reaches beyond the ports the kept plan read): while the check goes on, most often all it finds.
 */
export function rereadTouched(read: KeptStored, tree: string, changed: readonly string[], settings: MakeSettings): Rereading | undefined {
  const t = changed.length ? touchedBy(read, tree, changed) : undefined;
  return t && reread(t, changed, settings);
}

/**
 * The kept observation brought up to date, when every changed path (the kept plan's check) lies
 * in ports it read and those ports read the same dependencies and flavors as before; else
 * undefined (plan in full). `begun`: the re-reading of the ports the changes found first touch
 * (rereadTouched), used when all the changes touch the same ports.
 */
export async function observeFromKept(
  read: KeptRead,
  tree: string,
  changes: { records: StoredStatRecords; changed: ReadonlySet<string> },
  settings: MakeSettings,
  begun?: Rereading,
): Promise<KeptStart | undefined> {
  const { stored, before, decisions, patches: kept0 } = read;
  // (The changes found while the check went on were all: the ports they touch are those begun.)
  const found = new Set(begun?.changed);
  const all = begun && found.size === changes.changed.size && [...found].every((p) => changes.changed.has(p));
  const t = all ? begun : touchedBy(read, tree, changes.changed);
  if (!t) return undefined;
  const same = begun && begun.touched.length === t.touched.length && begun.touched.every((i, n) => t.touched[n] === i);
  const { touched, requests, result } = same ? begun : reread(t, [...changes.changed], settings);
  const rereadScan = await result;
  if (rereadScan.problems.size) return undefined;
  const ports = new Map(before.scan.ports);
  const patches = new Map(kept0.ports);
  let nodes: NodeIndex | undefined;
  for (const [n, i] of touched.entries()) {
    const port = before.graph.node(stored.origins[i]!).port!;
    const fresh = rereadScan.ports.get(port.meta.origin);
    if (!fresh || !sameShape(port, fresh)) return undefined;
    ports.set(fresh.meta.origin, fresh);
    patches.set(i, storePort(fresh, requests[n]!, { ...fresh.inputs }, (nodes ??= new Map(stored.origins.map((o, k) => [o, k])))));
  }
  const scan: ScanResult = { ...before.scan, ports };
  const graph = withPorts(before.graph, before.scan, scan);
  if (!graph) return undefined;
  const known = knownOf(stored, kept0.parts);
  return {
    observation: { ...before, scan, graph },
    carried: { decisions, observation: before, known },
    // The base as it was written, and the ports read since.
    keep: (now) => ({ base: read.base, patches: { ports: [...patches], parts: partsToKeep(now) } satisfies Patches }),
    recordInputs: (out) => {
      recordScanInputs(rereadScan, out);
      out.addStored(changes.records, changes.changed);
    },
  };
}

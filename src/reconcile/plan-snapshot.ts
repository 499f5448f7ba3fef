/**
 * The last standalone plan (`<buildBase>/plan-snapshot.bin`), kept with the stat data of
 * everything it was computed from. A fresh `portsync plan` with nothing changed prints it after
 * one stat per input — about 0.5 s for a 10,000-port tree's 58,000 files — instead of loading the
 * metadata cache, reading the database and deciding every port again (about 4 s).
 *
 * What a plan depends on, and how each is checked:
 * - the desired state as resolved from builds.yaml, the tree's path, the origins asked for, and
 *   portsync's own deciding code: the key;
 * - the tree: every directory and file of each port read, every framework file (as the scan saw
 *   them: the metadata cache's validated records), and the tree's directories down to the
 *   categories and the framework's (a port or category added or removed);
 * - the build database (its file and WAL: any write) and the published repository (`packages/All`, followed, and each
 *   file in it): recorded before the plan is made, so a change while it is made shows.
 * Nothing recorded may be newer than a second before the plan began (the racy rule of the
 * metadata cache). Nothing in a plan depends on the clock.
 */
import { closeSync, existsSync, fstatSync, openSync, readdirSync, statSync } from 'node:fs';
import { createHash } from 'node:crypto';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { deserialize, serialize } from 'node:v8';
import { writeFileAtomic } from '../atomicWrite.js';
import { readSection, type FileSection } from '../fileSection.js';
import type { DesiredState } from '../config/types.js';
import { publishedPackageDir } from '../repository/layout.js';
import {
  StatRecords,
  StatThread,
  changedSinceInParallel,
  decodeRecords,
  trustedMtime,
  type StoredStatRecords,
} from '../fingerprint/statRecords.js';
import type { TrustedPaths } from '../ports/scanner.js';
import type { PlanSummary } from './plan.js';
import type { PlanJson } from './result-json.js';

const SNAPSHOT_VERSION = 6;

/**
 * The file: sections, each a 4-byte length and its bytes: what identifies the plan (read
 * first); the stat records of what it was made from (StoredStatRecords.bytes: the check's second thread
 * reads them there); the plan itself (read when it stands); the observation it was made
 * from; then what changed in it since (KeptObservation as JSON, read only when some ports' files
 * changed).
 */
interface SnapshotHead {
  version: number;
  key: string;
  /** How many stat records there are. */
  count: number;
  /** How many of the records are the probe's (PlanSnapshotProbe.before): they come first. */
  before: number;
  /** The plan's summary (printing the kept plan as JSON needs nothing else of it). */
  summary: PlanSummary;
}

/**
 * The observation a plan was made from, as kept-observation.ts stores it: a base, kept as
 * written (a plan made from it writes the same bytes again), and what changed since (patches).
 */
export interface KeptObservation {
  base: Uint8Array;
  /** The base, read. */
  stored: unknown;
  patches: unknown;
}

/** A change found by the kept plan's check while it goes on. */
export interface ChangeFound {
  /** The kept plan as printed, and its observation (undefined: unreadable): read when asked (they stay read). */
  kept(): { plan: Buffer; observation: KeptObservation } | undefined;
  /** The changed paths found so far. */
  foundSoFar(): readonly string[];
}

/** A plan about to be made: what identifies it, and what was recorded before anything was read. */
export interface PlanSnapshotProbe {
  file: string;
  key: string;
  startedAt: number;
  /**
   * The database, the repository and the tree's directories, recorded before anything is read
   * (by loadPlanSnapshot: as the kept plan recorded them, when its check found them unchanged).
   */
  before?: StatRecords;
  /** Records them now. */
  recordBefore(): StatRecords;
  /** Started with the probe, when there is a kept plan: its check's second thread. */
  thread?: StatThread;
  /** The fewest records per thread for the check to be split (its default: that of changedSinceInParallel). */
  minPerThread?: number;
}

/** Where a desired state keeps its last standalone plan. */
export const planSnapshotFile = (state: DesiredState) => join(state.paths.buildBase, 'plan-snapshot.bin');

/** Identifies the request: call, then loadPlanSnapshot, before reading anything. */
export function beginPlanSnapshot(
  state: DesiredState,
  tree: string,
  only: readonly string[],
  /**
   * `thread`: the check's second thread, started ahead by the caller (else started now when there
   * is a kept plan); `minPerThread`: the fewest records per thread for the check to be split
   * (changedSinceInParallel; a test splits a small tree's).
   */
  opts: { minPerThread?: number; thread?: StatThread } = {},
): PlanSnapshotProbe {
  const startedAt = Date.now();
  const key = createHash('sha256')
    .update(JSON.stringify([SNAPSHOT_VERSION, codeIdentity(), state, tree, only]))
    .digest('hex');
  const file = planSnapshotFile(state);
  // (Started now, it is ready when the kept plan's records are read.)
  const thread = existsSync(file) ? (opts.thread ?? new StatThread()) : undefined;
  if (!thread) opts.thread?.close();
  const { minPerThread } = opts;
  return {
    file,
    key,
    startedAt,
    recordBefore: () => recordBefore(state, tree),
    ...(minPerThread !== undefined ? { minPerThread } : {}),
    ...(thread ? { thread } : {}),
  };
}

/** The stat data of the database, the repository and the tree's directories (what a plan's records begin with). */
function recordBefore(state: DesiredState, tree: string): StatRecords {
  const before = new StatRecords();
  before.addNow(state.paths.database);
  before.addNow(`${state.paths.database}.wal`);
  // `<packages>/All` is a link into the published snapshot: followed, so that a switch (a pass, a rollback) shows.
  const all = publishedPackageDir(state.paths.packages);
  before.addNow(all, true);
  for (const name of listing(all)) before.addNow(join(all, name.name));
  before.addNow(tree);
  for (const e of listing(tree)) {
    // (.git changes with every git command, and no port lives there)
    if (!e.isDirectory() || e.name.startsWith('.')) continue;
    if (e.name === 'Mk') recordDirs(join(tree, e.name), before);
    else before.addNow(join(tree, e.name));
  }
  return before;
}

/**
 * The kept plan, when it was made for this same request and nothing it was made from changed;
 * else, for the same request, what changed since (one stat per recorded path either way).
 */
export async function loadPlanSnapshot(
  probe: PlanSnapshotProbe,
  /** `onChange`: called as soon as a change is found (the check may go on): what planning again needs can begin, and is awaited. */
  opts: { onChange?: (found: ChangeFound) => unknown } = {},
): Promise<
  | { plan: PlanJson; /** the plan as kept: printJson's output of it */ bytes: Uint8Array }
  | {
      changes: TrustedPaths;
      /** something changed too recently: the plan made now cannot be kept */ racy: boolean;
      /** The observation the kept plan was made from (undefined: unreadable), and the kept plan as printed. */
      kept(): { plan: Buffer; observation: KeptObservation } | undefined;
    }
  | undefined
> {
  let file: SectionReader;
  let head: SnapshotHead;
  let stands = false;
  try {
    file = new SectionReader(probe.file);
    head = deserialize(file.next()) as SnapshotHead;
  } catch {
    probe.thread?.close();
    probe.before = probe.recordBefore();
    return undefined;
  }
  // The sections after the head, read once: the plan, then the observation (decoded when something changed).
  let rest: { bytes: Buffer; base: Buffer; patches: Buffer; decoded?: { stored: unknown; patches: unknown } | null } | undefined;
  // (Read here while the check goes on, the plan need not be read by its other thread too.)
  const tailTaken = new SharedArrayBuffer(4);
  const readRest = () => {
    if (!rest) Atomics.store(new Int32Array(tailTaken), 0, 1);
    return (rest ??= { bytes: file.next(), base: file.next(), patches: file.rest() });
  };
  const decoded = () => {
    const r = readRest();
    if (r.decoded === undefined) {
      try {
        r.decoded = { stored: readJson(r.base), patches: readJson(r.patches) };
      } catch {
        r.decoded = null;
      }
    }
    return r.decoded;
  };
  try {
    if (head?.version !== SNAPSHOT_VERSION || head.key !== probe.key) return undefined;
    const section = file.skip();
    let stored: StoredStatRecords | undefined;
    const readRecords = () => (stored ??= decodeRecords(file.readAt(section)));
    // A change found while the other thread still checks: whoever plans next reads the kept observation, so it is read meanwhile.
    const kept = () => {
      const d = decoded();
      const { bytes, base } = readRest();
      return d ? { plan: bytes, observation: { base, ...d } } : undefined;
    };
    const meanwhile = async (foundSoFar: () => readonly string[]) => {
      if (opts.onChange) await opts.onChange({ kept, foundSoFar });
      else decoded();
    };
    // The plan, next in the file, is read by the other thread once its records are checked: it has time to spare then.
    const tail = file.sectionAfter(section);
    const {
      paths: changed,
      newestMtimeMs,
      tail: tailBytes,
    } = await changedSinceInParallel(
      { count: head.count, section: { fd: file.fd, ...section }, tail, tailTaken, read: readRecords },
      probe.thread,
      {
        meanwhile,
        ...(probe.minPerThread !== undefined ? { minPerThread: probe.minPerThread } : {}),
      },
    );
    if (tailBytes) file.preloaded(tail, tailBytes);
    const records = readRecords();
    if (changed.length === 0) {
      stands = true;
      const { bytes } = readRest();
      return { plan: lazyPlan(head.summary, bytes), bytes };
    }
    // Nothing of what the probe records changed: its records are the kept ones (one stat per path less).
    const changedSet = new Set(changed);
    let beforeChanged = false;
    for (let i = 0; i < head.before && !beforeChanged; i++) beforeChanged = changedSet.has(records.path(i));
    if (!beforeChanged) {
      probe.before = new StatRecords();
      probe.before.addStoredHead(records, head.before);
    }
    readRest();
    return { changes: { records, changed: changedSet }, racy: !trustedMtime(newestMtimeMs, probe.startedAt), kept };
  } catch {
    return undefined;
  } finally {
    probe.thread?.close();
    file.close();
    // (Before anything is read: whoever plans now reads the tree next.)
    if (!stands) probe.before ??= probe.recordBefore();
  }
}

/** Reads the snapshot's sections one after the other, as they are needed (printing the kept plan reads not its observation). */
class SectionReader {
  readonly fd: number;
  private at = 0;
  /** A part of the file read already (by another thread), and where it begins. */
  private preload: { offset: number; bytes: Buffer } | undefined;
  constructor(file: string) {
    this.fd = openSync(file, 'r');
  }
  /** The bytes of a section (the file's size permitting). */
  readAt(section: FileSection): Buffer {
    const p = this.preload;
    if (p && section.offset >= p.offset && section.offset + section.length <= p.offset + p.bytes.length)
      return p.bytes.subarray(section.offset - p.offset, section.offset - p.offset + section.length);
    return readSection(this.fd, section, 'the kept plan');
  }
  /** The next section after one, with its 4-byte length. */
  sectionAfter(section: FileSection): FileSection {
    const offset = section.offset + section.length;
    return { offset, length: 4 + this.readAt({ offset, length: 4 }).readUInt32LE(0) };
  }
  /** `bytes` are the file's part `section`, read already: not read again. */
  preloaded(section: FileSection, bytes: Buffer): void {
    if (bytes.length === section.length) this.preload = { offset: section.offset, bytes };
  }
  private read(length: number): Buffer {
    const b = this.readAt({ offset: this.at, length });
    this.at += length;
    return b;
  }
  next(): Buffer {
    return this.read(this.read(4).readUInt32LE(0));
  }
  /** Where the next section is, not read (readAt reads it). */
  skip(): FileSection {
    const length = this.read(4).readUInt32LE(0);
    const offset = this.at;
    if (offset + length > fstatSync(this.fd).size) throw new Error('the kept plan is truncated');
    this.at += length;
    return { offset, length };
  }
  rest(): Buffer {
    return this.read(fstatSync(this.fd).size - this.at);
  }
  close(): void {
    closeSync(this.fd);
  }
}

/** The kept plan, read from its JSON. */
const parsePlan = (bytes: Buffer): PlanJson => JSON.parse(bytes.toString()) as PlanJson;

/** A kept plan whose summary is at hand and whose JSON is read only when something other than printing it as JSON needs it. */
function lazyPlan(summary: PlanSummary, bytes: Buffer): PlanJson {
  let parsed: PlanJson | undefined;
  const read = () => (parsed ??= parsePlan(bytes));
  const lazy = { summary } as PlanJson;
  for (const key of ['configWarnings', 'ports', 'cascade', 'problems', 'warnings'] as const)
    Object.defineProperty(lazy, key, { get: () => read()[key], enumerable: true });
  return lazy;
}

/**
 * Keeps a plan just made, unless something it was made from was too recent to trust; not being
 * able to write costs only speed. `recordInputs` adds what the tree's scan read
 * (recordScanInputs: this module does not load the scanner, so that printing a kept plan stays
 * quick). Returns whether it was kept.
 */
export function savePlanSnapshot(
  probe: PlanSnapshotProbe,
  recordInputs: (out: StatRecords) => void,
  /** The plan's summary and printJson's output of it (its parts, in order). */
  plan: { summary: PlanSummary; bytes: readonly Uint8Array[] },
  observation: () => Omit<KeptObservation, 'stored'> | undefined,
): boolean {
  const records = probe.before;
  if (!records) return false; // (not loaded first: what was read is not known to be older than the records)
  const before = records.count;
  recordInputs(records);
  if (!records.trustedAt(probe.startedAt)) return false;
  try {
    const stored = records.store();
    const head = serialize({
      version: SNAPSHOT_VERSION,
      key: probe.key,
      count: stored.count,
      before,
      summary: plan.summary,
    } satisfies SnapshotHead);
    const kept = observation() ?? { base: jsonBytes(null), patches: null };
    const parts = [
      lengthOf(head),
      head,
      lengthOf(stored.bytes),
      stored.bytes,
      lengthOf(plan.bytes),
      ...plan.bytes,
      lengthOf(kept.base),
      kept.base,
    ];
    writeFileAtomic(probe.file, [...parts, jsonBytes(kept.patches)], { mkdir: true });
    return true;
  } catch {
    return false; // a read-only build base (plan run by another user): made again next time
  }
}

/**
 * The kept observation's form: JSON (V8's JSON parser reads a real tree's observation, hundreds
 * of thousands of strings and arrays, in a fifth of the time its deserializer takes).
 */
export const jsonBytes = (value: unknown): Buffer => Buffer.from(JSON.stringify(value));
const readJson = (bytes: Uint8Array): unknown => JSON.parse(Buffer.from(bytes.buffer, bytes.byteOffset, bytes.byteLength).toString());

/** A section's 4-byte length, of its bytes or their parts. */
function lengthOf(b: Uint8Array | readonly Uint8Array[]): Buffer {
  const length = Buffer.alloc(4);
  length.writeUInt32LE(b instanceof Uint8Array ? b.length : b.reduce((n, part) => n + part.length, 0));
  return length;
}

function listing(dir: string) {
  try {
    return readdirSync(dir, { withFileTypes: true });
  } catch {
    return [];
  }
}

function recordDirs(dir: string, out: StatRecords): void {
  out.addNow(dir);
  for (const e of listing(dir)) if (e.isDirectory()) recordDirs(join(dir, e.name), out);
}

/**
 * portsync's deciding code (its source files' names and mtimes): a changed portsync decides
 * again. The sources, also when the compiled dist/ runs (bin/portsync.js runs it only while it is
 * as new as src/): the CLI and the sources in a test then agree.
 */
let code: string | undefined;
function codeIdentity(): string {
  if (code !== undefined) return code;
  const running = dirname(dirname(fileURLToPath(import.meta.url)));
  const sources = join(dirname(running), 'src');
  const root = existsSync(join(sources, 'reconcile')) ? sources : running;
  const h = createHash('sha256');
  for (const part of ['config', 'ports', 'graph', 'fingerprint', 'reconcile']) {
    for (const name of listing(join(root, part))
      .map((e) => e.name)
      .sort()) {
      try {
        h.update(`${part}/${name}\0${statSync(join(root, part, name)).mtimeMs}\n`);
      } catch {
        // gone while listed
      }
    }
  }
  return (code = h.digest('hex'));
}

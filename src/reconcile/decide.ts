/**
 * The rebuild decision — the one place that says whether a port must be built, and why. The
 * planner calls it with what is known before the pass; the scheduler calls it again for a port
 * whose dependencies rebuilt in the pass, once their packages are known (early cutoff).
 */
import { computeBuildKey, diffKeyParts, reasonKindOf, unknownDependencies } from '../fingerprint/buildKey.js';
import type { BuildKeyParts, Cascade, DependencyFact } from '../fingerprint/types.js';

/** Why a port is (not) built. */
export type ReasonKind =
  | 'new'
  | 'port-changed'
  | 'framework-changed'
  | 'options-changed'
  | 'dependency-changed'
  | 'package-missing'
  | 'package-changed'
  | 'forced'
  | 'pending'
  | 'cutoff'
  | 'failed'
  | 'suspended'
  | 'ignored'
  | 'orphan'
  | 'cycle'
  | 'no-such-port'
  | 'unknown-flavor'
  | 'make-failed'
  | 'bad-depends'
  | 'unreadable'
  | 'dependency-blocked'
  | 'dependency-ignored'
  | 'dependency-failed'
  | 'duplicate-package';

export interface Reason {
  kind: ReasonKind;
  detail: string;
  /** The origins, files or variables concerned, when there are some. */
  items?: string[];
  /** dependency-blocked / dependency-ignored: the port at the bottom of the chain and why it cannot be built. */
  root?: string;
}

/** A package as far as decisions and installs need it: its identity, shared libraries and (when recorded) checksum. */
export interface KnownPackage {
  identity: string;
  shlibs: string[];
  checksum?: string;
}

/** A known state's key parts that were not read with it (knownFromRows of rows without them). */
export const KEY_PARTS_NOT_READ = Symbol('key parts not read');

/**
 * decide() needs the recorded key parts of a port whose known state came without them: the
 * planner reads them and decides again (makePlanReadingParts). Never seen outside the planner.
 */
export class KeyPartsNotReadError extends Error {
  constructor(
    /** The key its current parts give, when every dependency's part is known. */
    readonly key: string | undefined,
  ) {
    super('internal: a decision needs recorded key parts that were not read');
  }
}

/**
 * A known state's recorded key parts: those of its last successful build (null: none recorded).
 * Throws KeyPartsNotReadError (with `key`, the key of the parts now) when they were not read with it.
 */
export function recordedParts(known: KnownPortState | undefined, key?: string): BuildKeyParts | null {
  if (!known?.buildKey) return null;
  if (known.keyParts === KEY_PARTS_NOT_READ) throw new KeyPartsNotReadError(key);
  return known.keyParts;
}

/** What the build database knows about a port: its last successful build, and a failure marker. */
export interface KnownPortState {
  buildKey: string | null;
  /** KEY_PARTS_NOT_READ: recorded, but not read yet (decide throws KeyPartsNotReadError when it needs them). */
  keyParts: BuildKeyParts | null | typeof KEY_PARTS_NOT_READ;
  /** The key of inputs at which its last build failed (cleared by a success). */
  failedKey: string | null;
  /** The package its last successful build produced, when recorded. */
  package: KnownPackage | null;
  /** That package's file name in the repository (what prune keeps while the port's new package is not in). */
  pkgfile?: string | null;
  /** The PKGVERSION it was last built at. */
  version?: string | null;
}

export interface DecisionInput {
  /** The port's current parts; a dependency that rebuilds in this pass has `pending: true`. */
  parts: BuildKeyParts;
  /** unknownDependencies of the parts, when the caller has them (the planner does, without reading the parts' dependency facts). */
  waiting?: string[];
  known: KnownPortState | undefined;
  cascade: Cascade;
  /** Its package file is in the repository. */
  pkgExists: boolean;
  /** false: the file in the repository is not the package its last build recorded (checksum); undefined: not checked. */
  pkgIntact?: boolean;
  pkgfile: string;
  forced: boolean;
  /**
   * The key of the parts with each pending dependency as the package it last built, or undefined
   * when one's version is not the one it last built: were those its parts at its last build (the
   * same key), it is pending without comparing them part by part (which needs the recorded parts
   * of thousands of ports above a hub tool).
   */
  asBuiltKey?: () => string | undefined;
}

export type Decision =
  /** `key` is absent while a dependency it needs is still to be built: it is computed when that one is done. */
  | { action: 'build'; reasons: Reason[]; key?: string }
  | { action: 'skip'; reasons: Reason[]; key: string }
  /** Its own inputs are unchanged; it rebuilds only if what `waitingOn` produce changes. */
  | { action: 'pending'; reasons: Reason[]; waitingOn: string[] }
  /** It failed at exactly these inputs before: not retried until they change or it is forced. */
  | { action: 'blocked'; reasons: Reason[]; key: string };

function pendingDetail(waiting: readonly string[], cascade: Cascade): string {
  if (cascade === 'version') return `rebuilds only if the shared libraries of ${waiting.join(' or ')} change`;
  return waiting.length === 1
    ? `rebuilds only if ${waiting[0]}'s package changes`
    : `rebuilds only if the package of ${waiting.join(' or ')} changes`;
}

export function decide(input: DecisionInput): Decision {
  const { parts, known, cascade } = input;
  const waiting = input.waiting ?? unknownDependencies(parts, cascade);
  const key = waiting.length ? undefined : computeBuildKey(parts, cascade);
  if (input.forced)
    return { action: 'build', reasons: [{ kind: 'forced', detail: 'forced from the command line' }], ...(key ? { key } : {}) };
  if (key && known?.failedKey === key) {
    return { action: 'blocked', reasons: [{ kind: 'failed', detail: 'failed at these inputs; change them or --force' }], key };
  }
  // The same key as the last successful build, and its package is there: nothing to compare.
  if (key && key === known?.buildKey && input.pkgExists && input.pkgIntact !== false) return { action: 'skip', reasons: [], key };
  if (waiting.length && known?.buildKey && input.pkgExists && input.pkgIntact !== false) {
    if (input.asBuiltKey?.() === known.buildKey) return pending(waiting, cascade);
  }
  const recorded = recordedParts(known, key);
  if (!recorded) {
    return {
      action: 'build',
      reasons: [{ kind: 'new', detail: known?.failedKey ? 'never built successfully' : 'never built' }],
      ...(key ? { key } : {}),
    };
  }
  const reasons: Reason[] = diffKeyParts(recorded, parts, cascade).map((c) => ({
    kind: reasonKindOf(c),
    detail: c.detail,
    ...(c.items ? { items: c.items } : {}),
  }));
  if (!input.pkgExists) reasons.push({ kind: 'package-missing', detail: `package ${input.pkgfile} is not in the repository` });
  else if (input.pkgIntact === false)
    reasons.push({
      kind: 'package-changed',
      detail: `package ${input.pkgfile} in the repository is not the one built (its checksum differs from the recorded one): it is never installed, and is rebuilt`,
    });
  if (reasons.length) return { action: 'build', reasons, ...(key ? { key } : {}) };
  if (waiting.length) return pending(waiting, cascade);
  return { action: 'skip', reasons: [], key: key! };
}

function pending(waiting: string[], cascade: Cascade): Decision {
  return { action: 'pending', reasons: [{ kind: 'pending', detail: pendingDetail(waiting, cascade), items: waiting }], waitingOn: waiting };
}

/** What a dependency that was built (or cut off) in this pass turned out to be. */
export interface SettledDependency {
  key: string;
  package: KnownPackage | null;
}

/** The parts with the pending dependencies filled in from what they turned out to be. */
export function settleDependencies(parts: BuildKeyParts, settled: ReadonlyMap<string, SettledDependency>): BuildKeyParts {
  let dependencies: Record<string, DependencyFact | string> | undefined;
  for (const [origin, fact] of Object.entries(parts.dependencies)) {
    if (typeof fact === 'string' || !fact.pending) continue;
    const s = settled.get(origin);
    if (!s) continue;
    dependencies ??= { ...parts.dependencies };
    const { pending: _p, ...rest } = fact;
    dependencies[origin] = {
      ...rest,
      key: s.key,
      package: s.package?.identity ?? '',
      ...(fact.lib ? { shlibs: s.package?.shlibs ?? [] } : {}),
    };
  }
  return dependencies ? { ...parts, dependencies } : parts;
}

/** A cut-off port's reason: the dependencies that rebuilt (or were cut off) in this pass, and what came out the same. */
export function cutoffReason(rebuilt: readonly string[], cutOff: readonly string[], cascade: Cascade): Reason {
  const what = cascade === 'version' ? 'same version and shared libraries' : 'package identical';
  const parts = [
    ...(rebuilt.length ? [`${rebuilt.join(', ')} rebuilt, ${what}`] : []),
    ...(cutOff.length ? [`${cutOff.join(', ')} cut off too`] : []),
  ];
  return { kind: 'cutoff', detail: parts.join('; '), items: [...rebuilt, ...cutOff] };
}

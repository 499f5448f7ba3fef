import type { BuildKeyParts, PackageIdentity } from '../fingerprint/types.js';

/**
 * Rows as the API returns them. Every timestamp is a JS Date (the columns are TIMESTAMPTZ, UTC);
 * durations are milliseconds as numbers. `query()` instead returns JSON-safe values with
 * timestamps as ISO-8601 strings.
 */
export type BuildStatus = 'running' | 'success' | 'failed' | 'interrupted';
export type FinishedBuildStatus = Exclude<BuildStatus, 'running'>;
export type RunStatus = 'running' | 'success' | 'failed' | 'interrupted' | 'error';

export interface BuildRow {
  buildId: string;
  runId: string | null;
  origin: string;
  flavor: string;
  pkgname: string | null;
  version: string | null;
  status: BuildStatus;
  crc: string | null;
  buildKey: string | null;
  keyParts: BuildKeyParts | null;
  trigger: string | null;
  reason: string | null;
  startedAt: Date;
  finishedAt: Date | null;
  durationMs: number | null;
  lastPhase: string | null;
  logPath: string | null;
  error: string | null;
  pid: number | null;
  /** The package a successful build produced (identity and checksum), when recorded. */
  package: Omit<PackageIdentity, 'shlibs'> | null;
}

export interface PhaseRow {
  buildId: string;
  phase: string;
  startedAt: Date;
  durationMs: number;
  exitCode: number;
}

export interface PortStateRow {
  origin: string;
  crc: string | null;
  buildKey: string | null;
  keyParts: BuildKeyParts | null;
  version: string | null;
  pkgname: string | null;
  pkgfile: string | null;
  /** The last successful build; null when the port never built successfully. */
  buildId: string | null;
  updatedAt: Date;
  /** Set when the port failed at this build key; cleared by a success. */
  failedKey: string | null;
  failedBuildId: string | null;
  failedAt: Date | null;
  /** The package of the last successful build, when recorded (portsync 0.2 on). */
  package: PackageIdentity | null;
}

/** What a plan reads of a port's state (BuildDB.knownStates): the columns its decision needs. */
export type KnownStateRow = Pick<PortStateRow, 'origin' | 'buildKey' | 'keyParts' | 'failedKey' | 'package' | 'pkgfile' | 'version'>;

/** A known state without its key parts (BuildDB.knownStatesWithoutParts): a whole tree's cost most of the read. */
export type KnownStateSummaryRow = Omit<KnownStateRow, 'keyParts'>;

export interface RunCounts {
  total: number;
  success: number;
  failed: number;
  skipped: number;
  ignored: number;
  blocked: number;
}

export interface RunRow extends RunCounts {
  /** Ports skipped because a dependency rebuilt with an identical result (early cutoff); counted in `skipped` too. */
  cutoff: number;
  runId: string;
  trigger: string;
  gitCommit: string | null;
  startedAt: Date;
  finishedAt: Date | null;
  status: RunStatus;
  durationMs: number | null;
  error: string | null;
  pid: number | null;
}

export interface StartRunInput {
  /** What started the pass: `manual`, `watch`, `webhook`, `timer`, `cli`… */
  trigger: string;
  gitCommit?: string | null;
  startedAt?: Date;
}

export interface FinishRunInput extends Partial<RunCounts> {
  cutoff?: number;
  error?: string | null;
  finishedAt?: Date;
}

export interface StartBuildInput {
  /** The build's id, when the caller made it already (its log file is named after it); else a new UUID. */
  buildId?: string;
  runId?: string | null;
  origin: string;
  /** Defaults to the part of the origin after `@`, or ''. */
  flavor?: string;
  pkgname: string;
  version: string;
  crc: string;
  buildKey: string;
  keyParts: BuildKeyParts;
  logPath: string;
  /** Why it is built, e.g. `port-changed: port CRC a -> b`. */
  reason: string;
  trigger?: string | null;
  startedAt?: Date;
}

export interface PhaseInput {
  phase: string;
  startedAt: Date;
  durationMs: number;
  exitCode: number;
}

export interface FinishBuildInput {
  finishedAt?: Date;
  /** The package a successful build produced. */
  package?: PackageIdentity | null;
  /** What it took: peak memory and CPU time, where measured. */
  usage?: { peakMemoryBytes: number | null; cpuMs: number | null } | null;
  lastPhase?: string | null;
  error?: string | null;
}

export interface PackageIndexInput {
  version: string;
  buildId: string;
  pkgfile: string;
  pkgname: string;
  /** The package's identity and checksum (absent when adopting packages that were not read). */
  package?: PackageIdentity | null;
}

export interface SuccessInput extends PackageIndexInput {
  crc: string;
  buildKey: string;
  keyParts: BuildKeyParts;
}

/** A success of one port (recordSuccesses, adoptPackages, completeBuild). */
export interface PortSuccessInput extends SuccessInput {
  origin: string;
}

/** What the end of a build records of its port (completeBuild): a success, or a failure that is not transient. */
export type BuildEndPort = { success: PortSuccessInput } | { failure: { origin: string; buildKey: string } };

/** A package file a run removed from the repository (policy.prune); origin and version when known. */
export interface PrunedPackage {
  pkgfile: string;
  origin: string | null;
  version: string | null;
  reason: string;
}

/** One finished build with its phases, for `appendBuildHistory` (bulk import, benchmarks). */
export interface BuildHistoryRecord {
  buildId?: string;
  runId?: string | null;
  origin: string;
  flavor?: string;
  pkgname: string;
  version: string;
  status: FinishedBuildStatus;
  crc: string;
  buildKey: string;
  keyParts?: BuildKeyParts | null;
  trigger?: string | null;
  reason?: string | null;
  startedAt: Date;
  finishedAt: Date;
  lastPhase?: string | null;
  /** The agent that built it (a distributed pass); null or absent: the coordinator. */
  host?: string | null;
  logPath?: string | null;
  error?: string | null;
  phases: PhaseInput[];
}

export interface QueryOptions {
  /** Rows returned at most; `truncated` tells when more existed. Default 10,000. */
  maxRows?: number;
  /** Interrupts the query after this long (QueryRejectedError). Default: none. */
  timeoutMs?: number;
}

export interface QueryResult {
  columns: string[];
  /** JSON-safe values: numbers (or strings for integers beyond 2^53), strings, booleans, null; timestamps as ISO strings. */
  rows: unknown[][];
  truncated: boolean;
}

/** A port as `status` shows it: its state row joined with its latest build (the daemon's and the CLI's status). */
export interface PortStatusRow {
  origin: string;
  version: string | null;
  pkgname: string | null;
  /** The package file of its last successful build. */
  pkgfile: string | null;
  /** success, failed, interrupted or running: the last build's status; never-built ports are not listed. */
  lastStatus: string | null;
  lastBuildId: string | null;
  lastStarted: string | null;
  lastFinished: string | null;
  lastDurationMs: number | null;
  lastPhase: string | null;
  lastError: string | null;
  log: string | null;
  /** The last successful build (port_state.build_id). */
  goodBuildId: string | null;
  crc: string | null;
  buildKey: string | null;
  /** Set when the port failed at its current key and is blocked until its inputs change. */
  failedKey: string | null;
  updatedAt: string | null;
}

/** A port's last successful build, with the git commit of the run that built it (`why`). */
export interface LastGoodRow {
  buildId: string;
  finishedAt: string | null;
  version: string | null;
  gitCommit: string | null;
}

import type { DuckDBConnection } from './duckdb.js';
import type { BuildKeyParts } from '../fingerprint/types.js';
import * as builds from './builds.js';
import type { Database } from './database.js';
import { openDatabase, type OpenOptions } from './open.js';
import * as portState from './portState.js';
import * as reads from './reads.js';
import * as runs from './runs.js';
import type { EngineStore } from './store.js';
import type {
  BuildEndPort,
  BuildHistoryRecord,
  BuildRow,
  FinishBuildInput,
  FinishRunInput,
  FinishedBuildStatus,
  LastGoodRow,
  PackageIndexInput,
  PhaseInput,
  PhaseRow,
  KnownStateRow,
  KnownStateSummaryRow,
  PortStateRow,
  PortStatusRow,
  PortSuccessInput,
  PrunedPackage,
  QueryOptions,
  QueryResult,
  RunRow,
  RunStatus,
  StartBuildInput,
  StartRunInput,
  SuccessInput,
} from './types.js';

export type { OpenOptions } from './open.js';

/**
 * The build database: build history, the CRC/package index and runs, in one DuckDB file.
 * One process may hold it read-write; every write goes through one connection, one at a time.
 * Each method is one job's module (open.ts, builds.ts, portState.ts, runs.ts, reads.ts).
 */
export class BuildDB implements EngineStore {
  private constructor(private readonly db: Database) {}

  /** Opens (creating, locking, migrating and recovering when read-write) the database at `path`. */
  static async open(path: string, opts: OpenOptions = {}): Promise<BuildDB> {
    return new BuildDB(await openDatabase(path, opts));
  }

  get file(): string {
    return this.db.file;
  }
  get readOnly(): boolean {
    return this.db.readOnly;
  }
  /** Builds and runs found `running` at open whose process is gone, now marked interrupted. */
  get recovered(): { builds: number; runs: number } {
    return this.db.recovered;
  }
  /** Changes whenever a write starts or ends: what was read at one generation holds while it stays the same. */
  get generation(): number {
    return this.db.generation;
  }
  /** Transactions the writes committed so far (writes queued together share one). */
  get commits(): number {
    return this.db.commits;
  }

  // Runs
  startRun(input: StartRunInput): Promise<string> {
    return runs.startRun(this.db, input);
  }
  finishRun(runId: string, status: RunStatus, counts: FinishRunInput = {}): Promise<void> {
    return runs.finishRun(this.db, runId, status, counts);
  }
  recordPrunes(runId: string | null, items: readonly PrunedPackage[]): Promise<void> {
    return runs.recordPrunes(this.db, runId, items);
  }
  /** A run of trigger `adopt` with a success build and the port state of each adopted package, in one transaction. */
  adoptPackages(run: StartRunInput & { total: number; skipped: number }, items: readonly PortSuccessInput[]): Promise<string> {
    return runs.adoptPackages(this.db, run, items);
  }

  // Builds and phases
  startBuild(input: StartBuildInput): Promise<string> {
    return builds.startBuild(this.db, input);
  }
  recordPhase(buildId: string, phase: string, startedAt: Date, durationMs: number, exitCode: number): Promise<void> {
    return builds.recordPhases(this.db, buildId, [{ phase, startedAt, durationMs, exitCode }]);
  }
  recordPhases(buildId: string, phases: PhaseInput[]): Promise<void> {
    return builds.recordPhases(this.db, buildId, phases);
  }
  setBuildHost(buildId: string, host: string): Promise<void> {
    return builds.setBuildHost(this.db, buildId, host);
  }
  finishBuild(buildId: string, status: FinishedBuildStatus, info: FinishBuildInput = {}): Promise<void> {
    return builds.finishBuild(this.db, buildId, status, info);
  }
  completeBuild(buildId: string, status: FinishedBuildStatus, info: FinishBuildInput = {}, port?: BuildEndPort): Promise<void> {
    return builds.completeBuild(this.db, buildId, status, info, port);
  }
  appendBuildHistory(records: BuildHistoryRecord[]): Promise<string[]> {
    return builds.appendBuildHistory(this.db, records);
  }

  // Port state
  updateCRC(origin: string, crc: string, buildKey: string, keyParts: BuildKeyParts): Promise<void> {
    return portState.updateCRC(this.db, origin, crc, buildKey, keyParts);
  }
  updatePackageIndex(origin: string, pkg: PackageIndexInput): Promise<void> {
    return portState.updatePackageIndex(this.db, origin, pkg);
  }
  recordSuccess(origin: string, s: SuccessInput): Promise<void> {
    return portState.recordSuccess(this.db, origin, s);
  }
  recordSuccesses(items: readonly PortSuccessInput[]): Promise<void> {
    return portState.recordSuccesses(this.db, items);
  }
  recordFailure(origin: string, buildKey: string, buildId: string): Promise<void> {
    return portState.recordFailure(this.db, origin, buildKey, buildId);
  }

  // Reads
  latestSuccess(origin: string): Promise<BuildRow | undefined> {
    return reads.latestSuccess(this.db, origin);
  }
  build(buildId: string): Promise<BuildRow | undefined> {
    return reads.build(this.db, buildId);
  }
  portState(origin: string): Promise<PortStateRow | undefined> {
    return reads.portState(this.db, origin);
  }
  allPortState(): Promise<PortStateRow[]> {
    return reads.allPortState(this.db);
  }
  knownStates(origins?: readonly string[]): Promise<KnownStateRow[]> {
    return reads.knownStates(this.db, origins);
  }
  knownStatesWithoutParts(): Promise<KnownStateSummaryRow[]> {
    return reads.knownStatesWithoutParts(this.db);
  }
  history(origin: string, limit = 50): Promise<BuildRow[]> {
    return reads.history(this.db, origin, limit);
  }
  phases(buildId: string): Promise<PhaseRow[]> {
    return reads.phases(this.db, buildId);
  }
  runs(limit = 20): Promise<RunRow[]> {
    return reads.runs(this.db, limit);
  }
  portStatuses(origins: readonly string[] = []): Promise<PortStatusRow[]> {
    return reads.portStatuses(this.db, origins);
  }
  lastGood(origin: string): Promise<LastGoodRow | null> {
    return reads.lastGood(this.db, origin);
  }
  query(sql: string, opts: QueryOptions = {}): Promise<QueryResult> {
    return reads.query(this.db, sql, opts);
  }

  /**
   * A new connection for one user SQL statement (sqlStream.ts), closed by the caller: a long
   * query then holds up neither the writes nor query() (the daemon's own reads).
   */
  userSqlConnection(): Promise<DuckDBConnection> {
    return this.db.userSqlConnection();
  }

  close(): Promise<void> {
    return this.db.close();
  }
}

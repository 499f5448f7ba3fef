import { randomUUID } from 'node:crypto';
import type { BuildKeyParts } from '../fingerprint/types.js';
import { BuildDB, type OpenOptions } from './db.js';
import type {
  BuildRow,
  FinishBuildInput,
  FinishRunInput,
  FinishedBuildStatus,
  PackageIndexInput,
  PhaseInput,
  PortStateRow,
  RunStatus,
  StartBuildInput,
  StartRunInput,
  SuccessInput,
} from './types.js';

export type LogFn = (msg: string) => void;

/**
 * The build database as the engine uses it: a database fault must never stop builds. Every
 * error is logged (operation and origin) and swallowed; a failed startBuild/startRun still yields an id. Without a database (null) every call is a
 * logged no-op.
 */
export class FailSafeBuildDB {
  /** Failures swallowed so far. */
  failures = 0;
  private readonly reportedMissing = new Set<string>();

  constructor(
    readonly db: BuildDB | null,
    private readonly log: LogFn,
  ) {}

  /**
   * Opens the database, or wraps null (logging why) when it cannot be opened. Errors for which
   * `refuse` returns true are thrown instead (a pass refuses a database another process holds).
   */
  static async open(path: string, opts: OpenOptions, log: LogFn, refuse?: (err: unknown) => boolean): Promise<FailSafeBuildDB> {
    try {
      return new FailSafeBuildDB(await BuildDB.open(path, opts), log);
    } catch (err) {
      if (refuse?.(err)) throw err;
      log(`builddb: open ${path} failed, builds continue without recording: ${(err as Error).message}`);
      return new FailSafeBuildDB(null, log);
    }
  }

  get available(): boolean {
    return this.db !== null;
  }

  private async guard<T>(operation: string, subject: string | undefined, fallback: () => T, fn: (db: BuildDB) => Promise<T>): Promise<T> {
    const what = `builddb: ${operation}${subject ? ` ${subject}` : ''}`;
    if (!this.db) {
      this.failures++;
      if (!this.reportedMissing.has(operation)) {
        this.reportedMissing.add(operation);
        this.log(`${what} not recorded: no build database (further ${operation} calls are not logged)`);
      }
      return fallback();
    }
    try {
      return await fn(this.db);
    } catch (err) {
      this.failures++;
      this.log(`${what} failed: ${(err as Error).message}`);
      return fallback();
    }
  }

  startRun(input: StartRunInput): Promise<string> {
    return this.guard('startRun', input.trigger, () => randomUUID(), (db) => db.startRun(input));
  }

  finishRun(runId: string, status: RunStatus, counts: FinishRunInput = {}): Promise<void> {
    return this.guard('finishRun', runId, () => undefined, (db) => db.finishRun(runId, status, counts));
  }

  startBuild(input: StartBuildInput): Promise<string> {
    return this.guard('startBuild', input.origin, () => randomUUID(), (db) => db.startBuild(input));
  }

  recordPhase(buildId: string, phase: string, startedAt: Date, durationMs: number, exitCode: number): Promise<void> {
    return this.guard('recordPhase', `build ${buildId}`, () => undefined, (db) => db.recordPhase(buildId, phase, startedAt, durationMs, exitCode));
  }

  recordPhases(buildId: string, phases: PhaseInput[]): Promise<void> {
    return this.guard('recordPhases', `build ${buildId}`, () => undefined, (db) => db.recordPhases(buildId, phases));
  }

  finishBuild(buildId: string, status: FinishedBuildStatus, info: FinishBuildInput = {}): Promise<void> {
    return this.guard('finishBuild', `build ${buildId}`, () => undefined, (db) => db.finishBuild(buildId, status, info));
  }

  updateCRC(origin: string, crc: string, buildKey: string, keyParts: BuildKeyParts): Promise<void> {
    return this.guard('updateCRC', origin, () => undefined, (db) => db.updateCRC(origin, crc, buildKey, keyParts));
  }

  updatePackageIndex(origin: string, pkg: PackageIndexInput): Promise<void> {
    return this.guard('updatePackageIndex', origin, () => undefined, (db) => db.updatePackageIndex(origin, pkg));
  }

  recordSuccess(origin: string, s: SuccessInput): Promise<void> {
    return this.guard('recordSuccess', origin, () => undefined, (db) => db.recordSuccess(origin, s));
  }

  recordFailure(origin: string, buildKey: string, buildId: string): Promise<void> {
    return this.guard('recordFailure', origin, () => undefined, (db) => db.recordFailure(origin, buildKey, buildId));
  }

  latestSuccess(origin: string): Promise<BuildRow | undefined> {
    return this.guard('latestSuccess', origin, () => undefined, (db) => db.latestSuccess(origin));
  }

  portState(origin: string): Promise<PortStateRow | undefined> {
    return this.guard('portState', origin, () => undefined, (db) => db.portState(origin));
  }

  /** Empty on failure: every port then looks new and is built. */
  allPortState(): Promise<PortStateRow[]> {
    return this.guard('allPortState', undefined, () => [], (db) => db.allPortState());
  }

  async close(): Promise<void> {
    if (!this.db) return;
    return this.guard('close', undefined, () => undefined, (db) => db.close());
  }
}

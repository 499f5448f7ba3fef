import { newId } from './ids.js';
import { BuildDB, type OpenOptions } from './db.js';
import type { EngineStore } from './store.js';

export type LogFn = (msg: string) => void;

type Method = (...args: any[]) => Promise<unknown>;

/** How one operation fails safe: what it is about (for the log line), and what it answers instead (default: undefined). */
interface FailSafeSpec<F extends Method> {
  subject?: (...args: Parameters<F>) => string | undefined;
  fallback?: (...args: Parameters<F>) => Awaited<ReturnType<F>>;
}

const build = (buildId: string) => `build ${buildId}`;
const origin = (o: string) => o;

/** Every operation of the engine's store, and how it fails safe. */
const SPECS: { [K in keyof EngineStore]: FailSafeSpec<EngineStore[K]> } = {
  // A run or build that could not be recorded still has an id (its log file is named after it).
  startRun: { subject: (input) => input.trigger, fallback: () => newId() },
  finishRun: { subject: (runId) => runId },
  startBuild: { subject: (input) => input.origin, fallback: (input) => input.buildId ?? newId() },
  recordPhases: { subject: build },
  setBuildHost: { subject: build },
  finishBuild: { subject: build },
  completeBuild: { subject: build },
  recordSuccess: { subject: origin },
  recordFailure: { subject: origin },
  recordPrunes: { subject: (runId) => runId ?? undefined },
  // Empty on failure: every port then looks new and is built.
  knownStatesWithoutParts: { fallback: () => [] },
  // (A port whose parts cannot be read is decided as one without recorded parts: built.)
  knownStates: { subject: (origins) => origins.join(' '), fallback: () => [] },
};

/**
 * The build database as the engine uses it: a database fault must never stop builds. Every
 * operation of EngineStore is wrapped the same way (SPECS): an error is logged (operation and
 * subject) and swallowed, and the operation answers its fallback; without a database (null)
 * every call is a logged no-op.
 */
// The class gets EngineStore's methods in its constructor (one wrapper for all of them).
export interface FailSafeBuildDB extends EngineStore {}
export class FailSafeBuildDB {
  /** Failures swallowed so far. */
  failures = 0;
  private readonly reportedMissing = new Set<string>();

  constructor(
    readonly db: BuildDB | null,
    private readonly log: LogFn,
  ) {
    for (const name of Object.keys(SPECS) as (keyof EngineStore)[]) {
      const spec = SPECS[name] as FailSafeSpec<Method>;
      Object.defineProperty(this, name, {
        value: (...args: unknown[]) =>
          this.guard(
            name,
            spec.subject?.(...args),
            () => spec.fallback?.(...args),
            (db) => (db[name] as Method).apply(db, args),
          ),
      });
    }
  }

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

  async close(): Promise<void> {
    if (!this.db) return;
    return this.guard(
      'close',
      undefined,
      () => undefined,
      (db) => db.close(),
    );
  }
}

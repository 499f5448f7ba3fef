import { newId } from './ids.js';
import { accessSync, constants, existsSync, mkdirSync } from 'node:fs';
import { dirname, resolve } from 'node:path';
import { type DuckDBConnection, type DuckDBValue, DuckDBInstance, listValue, VARCHAR } from '@duckdb/node-api';
import type { BuildKeyParts } from '../fingerprint/types.js';
import { appendBuildHistory, appendColumns } from './bulkAppend.js';
import { KeyPartsCodec } from './keyParts.js';
import { classifyStorageError } from './classify.js';
import {
  BuildDatabaseError,
  CRCError,
  DatabaseUnavailableError,
  DatabaseLockedError,
  DatabaseVersionError,
  PackageIndexError,
  RecordNotFoundError,
  RecordValidationError,
} from './errors.js';
import { isPidAlive, removeOwner, writeOwner } from './owner.js';
import { runReadOnlyQuery } from './readOnlyQuery.js';
import {
  BUILD_COLUMNS,
  LAST_GOOD_SQL,
  num,
  PORT_STATE_COLUMNS,
  portStatusSql,
  RUN_COLUMNS,
  toBuildRow,
  toLastGoodRow,
  toPortStateRow,
  toPortStatusRow,
  toRunRow,
  ts,
  type DecodeParts,
} from './rows.js';
import { CREATE_SCHEMA_VERSION_TABLE, MIGRATIONS, SCHEMA_VERSION } from './schema.js';
import type {
  BuildHistoryRecord,
  BuildRow,
  FinishBuildInput,
  FinishRunInput,
  FinishedBuildStatus,
  PackageIndexInput,
  PhaseInput,
  PhaseRow,
  LastGoodRow,
  PortStateRow,
  PortStatusRow,
  QueryOptions,
  QueryResult,
  RunRow,
  RunStatus,
  StartBuildInput,
  StartRunInput,
  SuccessInput,
} from './types.js';

export interface OpenOptions {
  /** Open without the write lock (and without migrating or recovering). Fails while another process writes. */
  readOnly?: boolean;
  /** Recorded in `<db>.owner` so a refused process can say who holds the database (default: this command line). */
  processInfo?: string;
}

/**
 * Why a directory cannot be created below `dir`: the errno of its nearest existing ancestor's
 * write check (recursive mkdir reports ENOENT on a read-only filesystem).
 */
function writeFaultOf(dir: string): string | undefined {
  let d = dir;
  while (!existsSync(d) && dirname(d) !== d) d = dirname(d);
  try {
    accessSync(d, constants.W_OK);
    return undefined;
  } catch (err) {
    return (err as NodeJS.ErrnoException).code;
  }
}

/** Databases this process holds read-write: DuckDB's file lock does not stop a second open in the same process. */
const openHere = new Set<string>();

const FINISHED_STATUSES: readonly FinishedBuildStatus[] = ['success', 'failed', 'interrupted'];
const RUN_STATUSES: readonly RunStatus[] = ['success', 'failed', 'interrupted', 'error'];
const CRC_PATTERN = /^[0-9a-f]{8}$/i;

interface OpContext {
  origin?: string;
  buildId?: string;
}

/**
 * The build database: build history, the CRC/package index and runs, in one DuckDB file.
 * One process may hold it read-write; every write goes through one connection, one at a time.
 */
export class BuildDB {
  /** Builds and runs found `running` at open whose process is gone, now marked interrupted. */
  recovered = { builds: 0, runs: 0 };
  private queue: Promise<unknown> = Promise.resolve();
  /**
   * port_state as last read, by origin, and the origins written since: the writer is the only
   * process with the file open, so a read re-reads only those (the daemon's passes).
   */
  private portStateCache: Map<string, PortStateRow> | null = null;
  private portStateDirty: Set<string> | 'all' = 'all';

  /** Marks rows as changed in the database (undefined: all of them). */
  private invalidatePortState(origins?: readonly string[]): void {
    if (!origins || this.portStateDirty === 'all') this.portStateDirty = 'all';
    else for (const o of origins) this.portStateDirty.add(o);
  }
  private closed = false;
  private readonly codec = new KeyPartsCodec();
  private readonly decode: DecodeParts = (v) => this.codec.decode(v);

  private constructor(
    readonly file: string,
    readonly readOnly: boolean,
    private readonly instance: DuckDBInstance,
    private readonly conn: DuckDBConnection,
    private readonly readConn: DuckDBConnection,
  ) {}

  static async open(path: string, opts: OpenOptions = {}): Promise<BuildDB> {
    const file = resolve(path);
    const readOnly = opts.readOnly ?? false;
    const ctx = { file, operation: 'open' };
    if (!readOnly) {
      if (openHere.has(file)) {
        throw new DatabaseLockedError(`build database ${file} is already open read-write in this process (pid ${process.pid})`, {
          ...ctx,
          holderPid: process.pid,
        });
      }
      try {
        mkdirSync(dirname(file), { recursive: true });
      } catch (err) {
        const code = writeFaultOf(dirname(file)) ?? (err as NodeJS.ErrnoException).code;
        throw new DatabaseUnavailableError(`cannot create the directory of build database ${file}: ${(err as Error).message}`, {
          ...ctx,
          reason: code === 'ENOSPC' ? 'disk-full' : code === 'EROFS' || code === 'EACCES' ? 'read-only' : 'io',
          cause: err,
        });
      }
    }
    let instance: DuckDBInstance;
    try {
      // No file access from SQL: `portsync sql` must not read or write arbitrary files.
      // The allocator hands freed memory back to the system (a background thread, and after any task
      // that used more than 8 MB): the daemon reads the whole port_state table and otherwise keeps
      // ~50 MB of freed pages (measured on a 10,000-port database).
      instance = await DuckDBInstance.create(file, {
        access_mode: readOnly ? 'READ_ONLY' : 'READ_WRITE',
        enable_external_access: 'false',
        allocator_background_threads: 'true',
        allocator_flush_threshold: '8MB',
      });
    } catch (err) {
      throw (
        classifyStorageError(err, ctx) ??
        new DatabaseUnavailableError(`cannot open build database ${file}: ${(err as Error).message}`, { ...ctx, reason: 'io', cause: err })
      );
    }
    let db: BuildDB | undefined;
    try {
      const conn = await instance.connect();
      const readConn = await instance.connect();
      for (const c of [conn, readConn]) await c.run(`SET TimeZone = 'UTC'`);
      db = new BuildDB(file, readOnly, instance, conn, readConn);
      if (!readOnly) {
        openHere.add(file);
        try {
          writeOwner(file, opts.processInfo ?? process.argv.join(' '));
        } catch {
          // advisory only
        }
      }
      await db.migrate();
      if (!readOnly) db.recovered = await db.recoverInterrupted();
      return db;
    } catch (err) {
      if (db) await db.close().catch(() => undefined);
      else instance.closeSync();
      if (err instanceof BuildDatabaseError) throw err;
      throw (
        classifyStorageError(err, ctx) ??
        new DatabaseUnavailableError(`cannot open build database ${file}: ${(err as Error).message}`, { ...ctx, reason: 'io', cause: err })
      );
    }
  }

  /** Runs fn on the write connection after every earlier operation, turning failures into typed errors. */
  private op<T>(
    operation: string,
    ctx: OpContext,
    fn: (c: DuckDBConnection) => Promise<T>,
    wrap?: (message: string, err: unknown) => BuildDatabaseError,
  ): Promise<T> {
    const run = () => this.guarded(this.conn, operation, ctx, fn, wrap);
    const result = this.queue.then(run, run);
    this.queue = result.catch(() => undefined);
    // A write counts when it starts (assertWritable) and again when it is done: a read that ran
    // alongside it is not taken for the state after it.
    if (this.writeOps.has(operation)) void result.finally(() => this.writes++).catch(() => undefined);
    return result;
  }

  /** Runs `fn` on `conn`, turning what fails into the typed errors (closed, storage, or `wrap`'s). */
  private async guarded<T>(
    conn: DuckDBConnection,
    operation: string,
    ctx: OpContext,
    fn: (c: DuckDBConnection) => Promise<T>,
    wrap?: (message: string, err: unknown) => BuildDatabaseError,
  ): Promise<T> {
    if (this.closed) {
      throw new DatabaseUnavailableError(`build database ${this.file} is closed`, {
        file: this.file,
        operation,
        ...ctx,
        reason: 'closed',
      });
    }
    try {
      return await fn(conn);
    } catch (err) {
      if (err instanceof BuildDatabaseError) throw err;
      const full = { file: this.file, operation, ...ctx };
      const storage = classifyStorageError(err, full);
      if (storage) throw storage;
      const msg = `${operation}${ctx.origin ? ` of ${ctx.origin}` : ''}${ctx.buildId ? ` (build ${ctx.buildId})` : ''} failed in ${this.file}: ${(err as Error).message}`;
      throw wrap ? wrap(msg, err) : new DatabaseUnavailableError(msg, { ...full, reason: 'io', cause: err });
    }
  }

  /**
   * A read of the product's own (bound parameters) on the read connection, beside the user
   * queries: it never waits behind the writes of a running pass (the daemon's status).
   */
  private readOp<T>(operation: string, ctx: OpContext, fn: (c: DuckDBConnection) => Promise<T>): Promise<T> {
    const run = () => this.guarded(this.readConn, operation, ctx, fn);
    const result = this.readQueue.then(run, run);
    this.readQueue = result.catch(() => undefined);
    return result;
  }

  /** Names of the operations that write (seen by assertWritable). */
  private readonly writeOps = new Set<string>();
  private writes = 0;
  /** Changes whenever a write starts or ends: what was read at one generation holds while it stays the same. */
  get generation(): number {
    return this.writes;
  }

  private assertWritable(operation: string, ctx: OpContext = {}): void {
    this.writeOps.add(operation);
    this.writes++;
    if (this.readOnly) {
      throw new DatabaseUnavailableError(`build database ${this.file} was opened read-only; ${operation} needs read-write`, {
        file: this.file,
        operation,
        ...ctx,
        reason: 'read-only',
      });
    }
  }

  private static async tx<T>(c: DuckDBConnection, fn: () => Promise<T>): Promise<T> {
    await c.run('BEGIN TRANSACTION');
    try {
      const r = await fn();
      await c.run('COMMIT');
      return r;
    } catch (err) {
      await c.run('ROLLBACK').catch(() => undefined);
      throw err;
    }
  }

  private static async rows(c: DuckDBConnection, sql: string, params: DuckDBValue[] = []): Promise<Record<string, unknown>[]> {
    const reader = await c.runAndReadAll(sql, params);
    return reader.getRowObjectsJS() as Record<string, unknown>[];
  }

  private async migrate(): Promise<void> {
    await this.op('migrate', {}, async (c) => {
      const exists = await BuildDB.rows(
        c,
        `SELECT count(*) AS n FROM duckdb_tables() WHERE table_name = 'schema_version' AND schema_name = 'main'`,
      );
      let current = 0;
      if (Number(exists[0]!.n) > 0) {
        const r = await BuildDB.rows(c, 'SELECT max(version) AS v FROM schema_version');
        current = num(r[0]!.v) ?? 0;
      }
      const ctx = { file: this.file, operation: 'open', fileVersion: current, knownVersion: SCHEMA_VERSION };
      if (current > SCHEMA_VERSION) {
        throw new DatabaseVersionError(
          `build database ${this.file} has schema version ${current}, written by a newer portsync; this portsync knows up to version ${SCHEMA_VERSION}. Upgrade portsync or point paths.database elsewhere`,
          ctx,
        );
      }
      if (current === SCHEMA_VERSION) return;
      if (this.readOnly) {
        throw new DatabaseVersionError(
          `build database ${this.file} has schema version ${current}, older than this portsync's ${SCHEMA_VERSION}; open it read-write once (any \`portsync reconcile\`) to upgrade it`,
          ctx,
        );
      }
      await c.run(CREATE_SCHEMA_VERSION_TABLE);
      for (const m of MIGRATIONS.filter((x) => x.version > current)) {
        await BuildDB.tx(c, async () => {
          for (const s of m.statements) await c.run(s);
          await c.run('INSERT INTO schema_version VALUES ($1, $2, $3)', [m.version, ts(new Date()), process.pid]);
        });
      }
    });
  }

  /** Marks builds and runs left `running` by a process that is gone as interrupted. */
  private async recoverInterrupted(): Promise<{ builds: number; runs: number }> {
    return this.op('recover', {}, async (c) => {
      const pids = await BuildDB.rows(
        c,
        `SELECT DISTINCT pid FROM builds WHERE status = 'running' UNION SELECT DISTINCT pid FROM runs WHERE status = 'running'`,
      );
      // We hold the write lock, so a `running` row of our own pid is left from an earlier, closed handle.
      const dead = pids.map((r) => num(r.pid)).filter((p) => p === null || p === process.pid || !isPidAlive(p));
      if (dead.length === 0) return { builds: 0, runs: 0 };
      const known = dead.filter((p): p is number => p !== null);
      const list = known.length ? known.join(',') : 'NULL';
      const now = ts(new Date());
      return BuildDB.tx(c, async () => {
        const b = await c.run(
          `UPDATE builds SET status = 'interrupted', finished_at = $1, duration_ms = date_diff('millisecond', started_at, $1),
             error = coalesce(error, 'interrupted: its portsync process (pid ' || coalesce(pid::VARCHAR, '?') || ') ended during the build')
           WHERE status = 'running' AND (pid IS NULL OR pid IN (${list}))`,
          [now],
        );
        const r = await c.run(
          `UPDATE runs SET status = 'interrupted', finished_at = $1, duration_ms = date_diff('millisecond', started_at, $1),
             error = coalesce(error, 'interrupted: its portsync process (pid ' || coalesce(pid::VARCHAR, '?') || ') ended during the run')
           WHERE status = 'running' AND (pid IS NULL OR pid IN (${list}))`,
          [now],
        );
        return { builds: b.rowsChanged, runs: r.rowsChanged };
      });
    });
  }

  async startRun(input: StartRunInput): Promise<string> {
    this.assertWritable('startRun');
    if (!input.trigger) {
      throw new RecordValidationError('startRun needs a trigger', {
        file: this.file,
        operation: 'startRun',
        field: 'trigger',
        value: input.trigger,
      });
    }
    const runId = newId();
    await this.op('startRun', {}, (c) =>
      c.run(`INSERT INTO runs (run_id, trigger, git_commit, started_at, status, pid) VALUES ($1, $2, $3, $4, 'running', $5)`, [
        runId,
        input.trigger,
        input.gitCommit ?? null,
        ts(input.startedAt ?? new Date()),
        process.pid,
      ]),
    );
    return runId;
  }

  async finishRun(runId: string, status: RunStatus, counts: FinishRunInput = {}): Promise<void> {
    const operation = 'finishRun';
    this.assertWritable(operation);
    if (!RUN_STATUSES.includes(status)) {
      throw new RecordValidationError(`finishRun: status must be one of ${RUN_STATUSES.join(', ')}, not ${JSON.stringify(status)}`, {
        file: this.file,
        operation,
        field: 'status',
        value: status,
      });
    }
    const changed = await this.op(operation, {}, async (c) => {
      const r = await c.run(
        `UPDATE runs SET status = $2, finished_at = $3, duration_ms = date_diff('millisecond', started_at, $3),
           total = $4, success = $5, failed = $6, skipped = $7, ignored = $8, blocked = $9, error = $10, cutoff = $11
         WHERE run_id = $1`,
        [
          runId,
          status,
          ts(counts.finishedAt ?? new Date()),
          counts.total ?? 0,
          counts.success ?? 0,
          counts.failed ?? 0,
          counts.skipped ?? 0,
          counts.ignored ?? 0,
          counts.blocked ?? 0,
          counts.error ?? null,
          counts.cutoff ?? 0,
        ],
      );
      return r.rowsChanged;
    });
    if (changed === 0) throw new RecordNotFoundError(`finishRun: no run ${runId} in ${this.file}`, { file: this.file, operation, runId });
  }

  async startBuild(input: StartBuildInput): Promise<string> {
    const operation = 'startBuild';
    const ctx = { origin: input.origin };
    this.assertWritable(operation, ctx);
    if (!input.origin || !/^[^/\s]+\/[^/\s]+$/.test(input.origin)) {
      throw new RecordValidationError(`startBuild: ${JSON.stringify(input.origin)} is not an origin (category/name[@flavor])`, {
        file: this.file,
        operation,
        ...ctx,
        field: 'origin',
        value: input.origin,
      });
    }
    const buildId = input.buildId ?? newId();
    const flavor = input.flavor ?? (input.origin.includes('@') ? input.origin.slice(input.origin.indexOf('@') + 1) : '');
    const encoded = this.codec.encode([input.keyParts]);
    await this.op(operation, { ...ctx, buildId }, (c) =>
      BuildDB.tx(c, async () => {
        await this.codec.storeSets(c, encoded.sets);
        await c.run(
          `INSERT INTO builds (build_id, run_id, origin, flavor, pkgname, version, status, crc, build_key, key_parts, trigger, reason,
           started_at, log_path, pid)
         VALUES ($1, $2, $3, $4, $5, $6, 'running', $7, $8, $9, $10, $11, $12, $13, $14)`,
          [
            buildId,
            input.runId ?? null,
            input.origin,
            flavor,
            input.pkgname,
            input.version,
            input.crc,
            input.buildKey,
            encoded.json[0]!,
            input.trigger ?? null,
            input.reason,
            ts(input.startedAt ?? new Date()),
            input.logPath,
            process.pid,
          ],
        );
      }),
    );
    return buildId;
  }

  private validatePhase(buildId: string, p: PhaseInput): void {
    const bad = (field: string, value: unknown, what: string) =>
      new RecordValidationError(`recordPhase (build ${buildId}): ${field} ${what}, got ${JSON.stringify(value)}`, {
        file: this.file,
        operation: 'recordPhase',
        buildId,
        field,
        value,
      });
    if (!p.phase) throw bad('phase', p.phase, 'must be a phase name');
    if (!(p.startedAt instanceof Date) || Number.isNaN(p.startedAt.getTime())) throw bad('startedAt', p.startedAt, 'must be a valid Date');
    if (!Number.isFinite(p.durationMs) || p.durationMs < 0) throw bad('durationMs', p.durationMs, 'must be a non-negative number');
    if (!Number.isInteger(p.exitCode)) throw bad('exitCode', p.exitCode, 'must be an integer');
  }

  async recordPhase(buildId: string, phase: string, startedAt: Date, durationMs: number, exitCode: number): Promise<void> {
    await this.recordPhases(buildId, [{ phase, startedAt, durationMs, exitCode }]);
  }

  /** Records several phases of one build in one statement. */
  async recordPhases(buildId: string, phases: PhaseInput[]): Promise<void> {
    this.assertWritable('recordPhase', { buildId });
    if (phases.length === 0) return;
    for (const p of phases) this.validatePhase(buildId, p);
    const values = phases.map((_, i) => `($1, $${i * 4 + 2}, $${i * 4 + 3}, $${i * 4 + 4}, $${i * 4 + 5})`).join(', ');
    const params: DuckDBValue[] = [buildId];
    for (const p of phases) params.push(p.phase, ts(p.startedAt), Math.round(p.durationMs), p.exitCode);
    await this.op('recordPhase', { buildId }, (c) => c.run(`INSERT INTO build_phases VALUES ${values}`, params));
  }

  /** Records the host that runs a build: the agent that took it in a distributed pass. */
  async setBuildHost(buildId: string, host: string): Promise<void> {
    const operation = 'setBuildHost';
    this.assertWritable(operation, { buildId });
    const changed = await this.op(
      operation,
      { buildId },
      async (c) => (await c.run(`UPDATE builds SET host = $2 WHERE build_id = $1`, [buildId, host])).rowsChanged,
    );
    if (changed === 0)
      throw new RecordNotFoundError(`${operation}: no build ${buildId} in ${this.file}`, { file: this.file, operation, buildId });
  }

  async finishBuild(buildId: string, status: FinishedBuildStatus, info: FinishBuildInput = {}): Promise<void> {
    const operation = 'finishBuild';
    this.assertWritable(operation, { buildId });
    if (!FINISHED_STATUSES.includes(status)) {
      throw new RecordValidationError(
        `finishBuild (build ${buildId}): status must be one of ${FINISHED_STATUSES.join(', ')}, not ${JSON.stringify(status)}`,
        { file: this.file, operation, buildId, field: 'status', value: status },
      );
    }
    const changed = await this.op(operation, { buildId }, async (c) => {
      const r = await c.run(
        `UPDATE builds SET status = $2, finished_at = $3, duration_ms = greatest(0, date_diff('millisecond', started_at, $3)),
           last_phase = coalesce($4, last_phase), error = $5, pkg_identity = $6, pkg_checksum = $7, peak_memory_bytes = $8, cpu_ms = $9
         WHERE build_id = $1`,
        [
          buildId,
          status,
          ts(info.finishedAt ?? new Date()),
          info.lastPhase ?? null,
          info.error ?? null,
          info.package?.identity ?? null,
          info.package?.checksum ?? null,
          info.usage?.peakMemoryBytes ?? null,
          info.usage?.cpuMs ?? null,
        ],
      );
      return r.rowsChanged;
    });
    if (changed === 0) {
      throw new RecordNotFoundError(`finishBuild: no build ${buildId} in ${this.file}`, { file: this.file, operation, buildId });
    }
  }

  private checkCRC(operation: string, origin: string, crc: string, buildKey: string): void {
    if (!CRC_PATTERN.test(crc)) {
      throw new CRCError(`${operation} of ${origin}: CRC must be 8 hex digits, got ${JSON.stringify(crc)}`, {
        file: this.file,
        operation,
        origin,
      });
    }
    if (!/^[0-9a-f]{64}$/.test(buildKey)) {
      throw new CRCError(`${operation} of ${origin}: build key must be 64 hex digits (SHA-256), got ${JSON.stringify(buildKey)}`, {
        file: this.file,
        operation,
        origin,
      });
    }
  }

  private checkPackage(operation: string, origin: string, p: PackageIndexInput): void {
    for (const field of ['version', 'buildId', 'pkgfile', 'pkgname'] as const) {
      if (typeof p[field] !== 'string' || p[field] === '') {
        throw new PackageIndexError(`${operation} of ${origin}: ${field} is empty`, {
          file: this.file,
          operation,
          origin,
          buildId: p.buildId,
        });
      }
    }
  }

  private async upsertCRC(c: DuckDBConnection, origin: string, crc: string, buildKey: string, keyParts: BuildKeyParts, now: Date) {
    const encoded = this.codec.encode([keyParts]);
    await this.codec.storeSets(c, encoded.sets);
    await c.run(
      `INSERT INTO port_state (origin, crc, build_key, key_parts, updated_at) VALUES ($1, $2, $3, $4, $5)
       ON CONFLICT (origin) DO UPDATE SET crc = excluded.crc, build_key = excluded.build_key, key_parts = excluded.key_parts,
         updated_at = excluded.updated_at, failed_key = NULL, failed_build_id = NULL, failed_at = NULL`,
      [origin, crc, buildKey, encoded.json[0]!, ts(now)],
    );
  }

  private static upsertPackage(c: DuckDBConnection, origin: string, p: PackageIndexInput, now: Date) {
    return c.run(
      `INSERT INTO port_state (origin, version, pkgname, pkgfile, build_id, updated_at, pkg_identity, pkg_checksum, pkg_shlibs)
       VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9)
       ON CONFLICT (origin) DO UPDATE SET version = excluded.version, pkgname = excluded.pkgname, pkgfile = excluded.pkgfile,
         build_id = excluded.build_id, updated_at = excluded.updated_at, failed_key = NULL, failed_build_id = NULL, failed_at = NULL,
         pkg_identity = excluded.pkg_identity, pkg_checksum = excluded.pkg_checksum, pkg_shlibs = excluded.pkg_shlibs`,
      [
        origin,
        p.version,
        p.pkgname,
        p.pkgfile,
        p.buildId,
        ts(now),
        p.package?.identity ?? null,
        p.package?.checksum ?? null,
        p.package ? JSON.stringify(p.package.shlibs) : null,
      ],
    );
  }

  /** Records the CRC and build key a port was successfully built at. Call only after a success. */
  async updateCRC(origin: string, crc: string, buildKey: string, keyParts: BuildKeyParts): Promise<void> {
    this.invalidatePortState([origin]);
    this.assertWritable('updateCRC', { origin });
    this.checkCRC('updateCRC', origin, crc, buildKey);
    await this.op(
      'updateCRC',
      { origin },
      (c) => BuildDB.tx(c, () => this.upsertCRC(c, origin, crc, buildKey, keyParts, new Date())),
      (message, cause) => new CRCError(message, { file: this.file, operation: 'updateCRC', origin, cause }),
    );
  }

  /** Records the package a successful build produced. Call only after a success. */
  async updatePackageIndex(origin: string, pkg: PackageIndexInput): Promise<void> {
    this.invalidatePortState([origin]);
    this.assertWritable('updatePackageIndex', { origin });
    this.checkPackage('updatePackageIndex', origin, pkg);
    await this.op(
      'updatePackageIndex',
      { origin, buildId: pkg.buildId },
      (c) => BuildDB.upsertPackage(c, origin, pkg, new Date()),
      (message, cause) =>
        new PackageIndexError(message, { file: this.file, operation: 'updatePackageIndex', origin, buildId: pkg.buildId, cause }),
    );
  }

  /** updateCRC and updatePackageIndex in one transaction: both or neither. */
  async recordSuccess(origin: string, s: SuccessInput): Promise<void> {
    this.invalidatePortState([origin]);
    const operation = 'recordSuccess';
    this.assertWritable(operation, { origin });
    this.checkCRC(operation, origin, s.crc, s.buildKey);
    this.checkPackage(operation, origin, s);
    await this.op(
      operation,
      { origin, buildId: s.buildId },
      (c) =>
        BuildDB.tx(c, async () => {
          const now = new Date();
          await this.upsertCRC(c, origin, s.crc, s.buildKey, s.keyParts, now);
          await BuildDB.upsertPackage(c, origin, s, now);
        }),
      (message, cause) => new PackageIndexError(message, { file: this.file, operation, origin, buildId: s.buildId, cause }),
    );
  }

  /** recordSuccess for many ports in one transaction (benchmarks; `adopt` uses adoptPackages). */
  async recordSuccesses(items: readonly (SuccessInput & { origin: string })[]): Promise<void> {
    const operation = 'recordSuccesses';
    this.assertWritable(operation);
    this.checkSuccesses(operation, items);
    await this.op(operation, {}, (c) => BuildDB.tx(c, () => this.upsertSuccesses(c, items)));
  }

  /**
   * Adopting an existing repository, in one transaction: a run (trigger `adopt`, its counts), one
   * `success` build per port (no duration: nothing was built; reason `adopted`) and its port_state
   * row with the package's identity. Returns the run id.
   */
  async adoptPackages(
    run: StartRunInput & { total: number; skipped: number },
    items: readonly (SuccessInput & { origin: string })[],
  ): Promise<string> {
    const operation = 'adoptPackages';
    this.assertWritable(operation);
    this.checkSuccesses(operation, items);
    const runId = newId();
    const now = ts(run.startedAt ?? new Date());
    await this.op(operation, {}, (c) =>
      BuildDB.tx(c, async () => {
        await c.run(
          `INSERT INTO runs (run_id, trigger, git_commit, started_at, finished_at, status, total, success, failed, skipped, ignored, blocked, cutoff, duration_ms, pid)
           VALUES ($1, $2, $3, $4, now(), 'success', $5, $6, 0, $7, 0, 0, 0, date_diff('millisecond', $4, now()), $8)`,
          [runId, run.trigger, run.gitCommit ?? null, now, run.total, items.length, run.skipped, process.pid],
        );
        await this.upsertSuccesses(c, items, { runId, trigger: run.trigger });
      }),
    );
    return runId;
  }

  /** Records pruned package files (policy.prune) of a run, in one statement. */
  async recordPrunes(
    runId: string | null,
    items: readonly { pkgfile: string; origin: string | null; version: string | null; reason: string }[],
  ): Promise<void> {
    const operation = 'recordPrunes';
    this.assertWritable(operation);
    if (items.length === 0) return;
    const values = items.map((_, i) => `($1, $${i * 4 + 2}, $${i * 4 + 3}, $${i * 4 + 4}, $${i * 4 + 5}, now())`).join(', ');
    const params: DuckDBValue[] = [runId];
    for (const p of items) params.push(p.pkgfile, p.origin, p.version, p.reason);
    await this.op(operation, {}, (c) => c.run(`INSERT INTO pruned_packages VALUES ${values}`, params));
  }

  private checkSuccesses(operation: string, items: readonly (SuccessInput & { origin: string })[]): void {
    this.invalidatePortState();
    for (const s of items) {
      this.checkCRC(operation, s.origin, s.crc, s.buildKey);
      this.checkPackage(operation, s.origin, s);
    }
  }

  /** Successes column-wise into a temporary table, then one upsert (row-by-row upserts take minutes for a whole tree); with `history`, one builds row each. */
  private async upsertSuccesses(
    c: DuckDBConnection,
    items: readonly (SuccessInput & { origin: string })[],
    history?: { runId: string; trigger: string },
  ): Promise<void> {
    const cols = [
      'origin',
      'crc',
      'build_key',
      'key_parts',
      'version',
      'pkgname',
      'pkgfile',
      'build_id',
      'pkg_identity',
      'pkg_checksum',
      'pkg_shlibs',
    ] as const;
    const encoded = this.codec.encode(items.map((s) => s.keyParts));
    const values = (s: SuccessInput & { origin: string }, i: number) => [
      s.origin,
      s.crc,
      s.buildKey,
      encoded.json[i]!,
      s.version,
      s.pkgname,
      s.pkgfile,
      s.buildId,
      s.package?.identity ?? null,
      s.package?.checksum ?? null,
      s.package ? JSON.stringify(s.package.shlibs) : null,
    ];
    const rows = items.map(values);
    const columns = cols.map((_, i) => rows.map((r) => r[i]!));
    await this.codec.storeSets(c, encoded.sets);
    await c.run(`CREATE OR REPLACE TEMP TABLE success_import (${cols.map((n) => `${n} VARCHAR`).join(', ')})`);
    await appendColumns(
      c,
      'success_import',
      cols.map(() => VARCHAR),
      columns,
    );
    await c.run(
      `INSERT INTO port_state (origin, crc, build_key, key_parts, version, pkgname, pkgfile, build_id, updated_at, pkg_identity, pkg_checksum, pkg_shlibs)
       SELECT origin, crc, build_key, key_parts, version, pkgname, pkgfile, build_id::UUID, now(), pkg_identity, pkg_checksum, pkg_shlibs FROM success_import
       ON CONFLICT (origin) DO UPDATE SET crc = excluded.crc, build_key = excluded.build_key, key_parts = excluded.key_parts,
         version = excluded.version, pkgname = excluded.pkgname, pkgfile = excluded.pkgfile, build_id = excluded.build_id,
         updated_at = excluded.updated_at, failed_key = NULL, failed_build_id = NULL, failed_at = NULL,
         pkg_identity = excluded.pkg_identity, pkg_checksum = excluded.pkg_checksum, pkg_shlibs = excluded.pkg_shlibs`,
    );
    if (history) {
      await c.run(
        `INSERT INTO builds (build_id, run_id, origin, flavor, pkgname, version, status, crc, build_key, key_parts, trigger, reason,
           started_at, finished_at, pid, pkg_identity, pkg_checksum)
         SELECT build_id::UUID, $1, origin, CASE WHEN contains(origin, '@') THEN split_part(origin, '@', 2) ELSE '' END, pkgname, version,
           'success', crc, build_key, key_parts, $2, 'adopted: its package was in the repository', now(), now(), $3, pkg_identity, pkg_checksum
         FROM success_import`,
        [history.runId, history.trigger, process.pid],
      );
    }
    await c.run('DROP TABLE success_import');
  }

  /** Marks that the port failed at this build key, so it is not retried until its inputs change. */
  async recordFailure(origin: string, buildKey: string, buildId: string): Promise<void> {
    this.invalidatePortState([origin]);
    const operation = 'recordFailure';
    this.assertWritable(operation, { origin, buildId });
    const now = ts(new Date());
    await this.op(operation, { origin, buildId }, (c) =>
      c.run(
        `INSERT INTO port_state (origin, updated_at, failed_key, failed_build_id, failed_at) VALUES ($1, $2, $3, $4, $2)
         ON CONFLICT (origin) DO UPDATE SET failed_key = excluded.failed_key, failed_build_id = excluded.failed_build_id,
           failed_at = excluded.failed_at, updated_at = excluded.updated_at`,
        [origin, now, buildKey, buildId],
      ),
    );
  }

  /** Rows of a read that carries key parts: the stored file sets are loaded first. */
  private async partsRows(operation: string, ctx: OpContext, sql: string, params: DuckDBValue[] = []): Promise<Record<string, unknown>[]> {
    return this.op(operation, ctx, async (c) => {
      await this.codec.load(c);
      return BuildDB.rows(c, sql, params);
    });
  }

  async latestSuccess(origin: string): Promise<BuildRow | undefined> {
    const rows = await this.partsRows(
      'latestSuccess',
      { origin },
      `SELECT ${BUILD_COLUMNS} FROM builds WHERE origin = $1 AND status = 'success' ORDER BY finished_at DESC LIMIT 1`,
      [origin],
    );
    return rows[0] ? toBuildRow(rows[0], this.decode) : undefined;
  }

  async build(buildId: string): Promise<BuildRow | undefined> {
    const rows = await this.partsRows('build', { buildId }, `SELECT ${BUILD_COLUMNS} FROM builds WHERE build_id = $1`, [buildId]);
    return rows[0] ? toBuildRow(rows[0], this.decode) : undefined;
  }

  async portState(origin: string): Promise<PortStateRow | undefined> {
    const rows = await this.partsRows('portState', { origin }, `SELECT ${PORT_STATE_COLUMNS} FROM port_state WHERE origin = $1`, [origin]);
    return rows[0] ? toPortStateRow(rows[0], this.decode) : undefined;
  }

  /** Every port's state, by origin. Unchanged rows are the same objects as last time (callers may memoize on them). */
  async allPortState(): Promise<PortStateRow[]> {
    const dirty = this.portStateDirty;
    if (this.readOnly || !this.portStateCache || dirty === 'all') {
      const rows = (await this.partsRows('allPortState', {}, `SELECT ${PORT_STATE_COLUMNS} FROM port_state ORDER BY origin`)).map((r) =>
        toPortStateRow(r, this.decode),
      );
      if (!this.readOnly) {
        this.portStateCache = new Map(rows.map((r) => [r.origin, r]));
        this.portStateDirty = new Set();
      }
      return rows;
    }
    if (dirty.size) {
      const origins = [...dirty];
      this.portStateDirty = new Set();
      const fresh = (
        await this.partsRows(
          'allPortState',
          {},
          `SELECT ${PORT_STATE_COLUMNS} FROM port_state WHERE origin IN (SELECT unnest($1::VARCHAR[]))`,
          [listValue(origins)],
        )
      ).map((r) => toPortStateRow(r, this.decode));
      for (const o of origins) this.portStateCache.delete(o);
      for (const r of fresh) this.portStateCache.set(r.origin, r);
      // Sorted by origin like the full read (new origins were appended to the map).
      if (fresh.length) this.portStateCache = new Map([...this.portStateCache].sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0)));
    }
    return [...this.portStateCache.values()];
  }

  /** A port's builds, newest first. */
  async history(origin: string, limit = 50): Promise<BuildRow[]> {
    const rows = await this.partsRows(
      'history',
      { origin },
      `SELECT ${BUILD_COLUMNS} FROM builds WHERE origin = $1 ORDER BY started_at DESC LIMIT $2`,
      [origin, limit],
    );
    return rows.map((r) => toBuildRow(r, this.decode));
  }

  /** A build's phases in the order they ran. */
  async phases(buildId: string): Promise<PhaseRow[]> {
    const rows = await this.op('phases', { buildId }, (c) =>
      BuildDB.rows(
        c,
        `SELECT build_id::VARCHAR AS build_id, phase, started_at, duration_ms, exit_code FROM build_phases WHERE build_id = $1 ORDER BY started_at`,
        [buildId],
      ),
    );
    return rows.map((r) => ({
      buildId: String(r.build_id),
      phase: String(r.phase),
      startedAt: r.started_at as Date,
      durationMs: Number(r.duration_ms),
      exitCode: Number(r.exit_code),
    }));
  }

  /** Runs, newest first. */
  async runs(limit = 20): Promise<RunRow[]> {
    const rows = await this.op('runs', {}, (c) =>
      BuildDB.rows(c, `SELECT ${RUN_COLUMNS} FROM runs ORDER BY started_at DESC LIMIT $1`, [limit]),
    );
    return rows.map(toRunRow);
  }

  /**
   * Appends finished builds with their phases in bulk (DuckDB appenders, one transaction).
   * History only: the port_state index is not touched.
   */
  async appendBuildHistory(records: BuildHistoryRecord[]): Promise<string[]> {
    this.assertWritable('appendBuildHistory');
    return this.op('appendBuildHistory', {}, (c) => BuildDB.tx(c, () => appendBuildHistory(c, records)));
  }

  /** port_state joined with each port's latest build (ports that only ever failed too); `origins` narrows it. */
  async portStatuses(origins: readonly string[] = []): Promise<PortStatusRow[]> {
    const rows = await this.readOp('portStatuses', {}, (c) => BuildDB.rows(c, portStatusSql(origins.length), [...origins]));
    return rows.map(toPortStatusRow);
  }

  /** A port's last successful build, and the git commit of the run that built it. */
  async lastGood(origin: string): Promise<LastGoodRow | null> {
    const rows = await this.readOp('lastGood', { origin }, (c) => BuildDB.rows(c, LAST_GOOD_SQL, [origin]));
    return rows[0] ? toLastGoodRow(rows[0]) : null;
  }

  /** One read-only SQL statement (SELECT, WITH, SHOW, DESCRIBE, EXPLAIN); anything else is QueryRejectedError. */
  query(sql: string, opts: QueryOptions = {}): Promise<QueryResult> {
    // Queries use their own connection so that they never run inside a write transaction.
    return this.readOp('query', {}, (c) => runReadOnlyQuery(c, sql, this.file, opts));
  }
  private readQueue: Promise<unknown> = Promise.resolve();

  /**
   * A new connection for one user SQL statement (sqlStream.ts), closed by the caller: a long
   * query then holds up neither the writes nor query() (the daemon's own reads).
   */
  async userSqlConnection(): Promise<DuckDBConnection> {
    if (this.closed) {
      throw new DatabaseUnavailableError(`build database ${this.file} is closed`, {
        file: this.file,
        operation: 'query',
        reason: 'closed',
      });
    }
    const c = await this.instance.connect();
    await c.run(`SET TimeZone = 'UTC'`).catch((err: unknown) => {
      c.closeSync();
      throw err;
    });
    return c;
  }

  async close(): Promise<void> {
    if (this.closed) return;
    await this.queue;
    await this.readQueue;
    this.closed = true;
    try {
      this.readConn.closeSync();
      this.conn.closeSync();
      this.instance.closeSync();
    } finally {
      if (!this.readOnly) {
        openHere.delete(this.file);
        removeOwner(this.file);
      }
    }
  }
}

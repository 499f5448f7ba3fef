/**
 * Opening the build database: the file and its directory, the write lock (DuckDB's, and the
 * owner sidecar that names its holder), the schema migrations, and the recovery of builds and
 * runs a dead process left `running`.
 */
import { accessSync, constants, existsSync, mkdirSync } from 'node:fs';
import { dirname, resolve } from 'node:path';
import { type DuckDBConnection, DuckDBInstance } from './duckdb.js';
import { classifyStorageError } from './classify.js';
import { Database, inTransaction, rowsOf } from './database.js';
import { BuildDatabaseError, DatabaseLockedError, DatabaseUnavailableError, DatabaseVersionError } from './errors.js';
import { isPidAlive, removeOwner, writeOwner } from './owner.js';
import { num, ts } from './rows.js';
import { CREATE_SCHEMA_VERSION_TABLE, MIGRATIONS, SCHEMA_VERSION } from './schema.js';

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

export async function openDatabase(path: string, opts: OpenOptions = {}): Promise<Database> {
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
  const cannotOpen = (err: unknown) =>
    classifyStorageError(err, ctx) ??
    new DatabaseUnavailableError(`cannot open build database ${file}: ${(err as Error).message}`, { ...ctx, reason: 'io', cause: err });
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
    throw cannotOpen(err);
  }
  let db: Database | undefined;
  try {
    const conn = await instance.connect();
    const readConn = await instance.connect();
    for (const c of [conn, readConn]) await c.run(`SET TimeZone = 'UTC'`);
    db = new Database(file, readOnly, instance, conn, readConn, () => {
      if (readOnly) return;
      openHere.delete(file);
      removeOwner(file);
    });
    if (!readOnly) {
      openHere.add(file);
      try {
        writeOwner(file, opts.processInfo ?? process.argv.join(' '));
      } catch {
        // advisory only
      }
    }
    await db.op('migrate', {}, (c) => migrate(c, file, readOnly));
    if (!readOnly) db.recovered = await db.op('recover', {}, recoverInterrupted);
    return db;
  } catch (err) {
    if (db) await db.close().catch(() => undefined);
    else instance.closeSync();
    if (err instanceof BuildDatabaseError) throw err;
    throw cannotOpen(err);
  }
}

/** Applies the migrations the file lacks, each in its own transaction; refuses a newer schema, and an older one read-only. */
async function migrate(c: DuckDBConnection, file: string, readOnly: boolean): Promise<void> {
  const exists = await rowsOf(c, `SELECT count(*) AS n FROM duckdb_tables() WHERE table_name = 'schema_version' AND schema_name = 'main'`);
  let current = 0;
  if (Number(exists[0]!.n) > 0) {
    const r = await rowsOf(c, 'SELECT max(version) AS v FROM schema_version');
    current = num(r[0]!.v) ?? 0;
  }
  const ctx = { file, operation: 'open', fileVersion: current, knownVersion: SCHEMA_VERSION };
  if (current > SCHEMA_VERSION) {
    throw new DatabaseVersionError(
      `build database ${file} has schema version ${current}, written by a newer portsync; this portsync knows up to version ${SCHEMA_VERSION}. Upgrade portsync or point paths.database elsewhere`,
      ctx,
    );
  }
  if (current === SCHEMA_VERSION) return;
  if (readOnly) {
    throw new DatabaseVersionError(
      `build database ${file} has schema version ${current}, older than this portsync's ${SCHEMA_VERSION}; open it read-write once (any \`portsync reconcile\`) to upgrade it`,
      ctx,
    );
  }
  await c.run(CREATE_SCHEMA_VERSION_TABLE);
  for (const m of MIGRATIONS.filter((x) => x.version > current)) {
    await inTransaction(c, async () => {
      for (const s of m.statements) await c.run(s);
      await c.run('INSERT INTO schema_version VALUES ($1, $2, $3)', [m.version, ts(new Date()), process.pid]);
    });
  }
}

/** Marks builds and runs left `running` by a process that is gone as interrupted. */
async function recoverInterrupted(c: DuckDBConnection): Promise<{ builds: number; runs: number }> {
  const pids = await rowsOf(
    c,
    `SELECT DISTINCT pid FROM builds WHERE status = 'running' UNION SELECT DISTINCT pid FROM runs WHERE status = 'running'`,
  );
  // We hold the write lock, so a `running` row of our own pid is left from an earlier, closed handle.
  const dead = pids.map((r) => num(r.pid)).filter((p) => p === null || p === process.pid || !isPidAlive(p));
  if (dead.length === 0) return { builds: 0, runs: 0 };
  const known = dead.filter((p): p is number => p !== null);
  const list = known.length ? known.join(',') : 'NULL';
  const now = ts(new Date());
  return inTransaction(c, async () => {
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
}

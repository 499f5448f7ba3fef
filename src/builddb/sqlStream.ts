/**
 * User SQL (`portsync sql`, POST /sql) under limits that hold: read-only (one SELECT-like
 * statement in a READ ONLY transaction), on a connection of its own, within a memory limit, a
 * time limit enforced by interrupting DuckDB, and a cap on rows and bytes. Rows are handed to a
 * sink chunk by chunk as DuckDB produces them, never gathered into one big value.
 */
import type { DuckDBConnection } from './duckdb.js';
import type { BuildDB } from './db.js';
import { QueryRejectedError } from './errors.js';
import { assertReadOnlySQL, jsonSafe } from './readOnlyQuery.js';
import { formatBytes, OPERATION, QueryCancelledError, QueryMemoryError, QueryTimeoutError } from './sqlErrors.js';

export interface SqlLimits {
  /** Rows returned at most; more is a truncation, not an error. */
  maxRows: number;
  /** Bytes of result returned at most, counted as the rows' JSON text; more is a truncation. */
  maxBytes: number;
  /** Wall-clock time for the whole query, output included; then DuckDB is interrupted. */
  timeoutMs: number;
  /** DuckDB's memory_limit while user SQL runs. */
  memoryLimitBytes: number;
  /** DuckDB's max_temp_directory_size: the disk a query may spill to beyond its memory. */
  tempLimitBytes: number;
}

/** Where the rows go. A returned promise holds the query back until it settles (backpressure). */
export interface SqlSink {
  /** The column names, once, before the first rows (also when there are none). */
  begin(columns: string[]): void | Promise<void>;
  /** The next rows, JSON-safe, with each row's JSON text (what the byte cap counted). */
  rows(rows: unknown[][], json: string[]): void | Promise<void>;
}

export interface SqlSummary {
  columns: string[];
  rows: number;
  bytes: number;
  /** Why rows were left out: the row cap, the byte cap, or null when every row was returned. */
  truncated: 'rows' | 'bytes' | null;
}

/** What to tell the user when rows were left out (null when none were). */
export function truncationNotice(s: Pick<SqlSummary, 'rows' | 'truncated'>, limits: Pick<SqlLimits, 'maxBytes'>): string | null {
  if (s.truncated === 'rows') return `only the first ${s.rows} rows were returned (the row limit for SQL); add a LIMIT or aggregate`;
  if (s.truncated === 'bytes') {
    return `only the first ${s.rows} rows were returned: the result reached the ${formatBytes(limits.maxBytes)} limit for SQL output; select fewer or narrower columns, or add a LIMIT`;
  }
  return null;
}

type StopReason = 'timeout' | 'cancelled';

/** Interrupts the connection at the time limit or when `signal` aborts. */
class Watchdog {
  reason: StopReason | null = null;
  readonly stopped: Promise<void>;
  private onStop!: () => void;
  private readonly timer: NodeJS.Timeout;
  private repeat: NodeJS.Timeout | undefined;
  private readonly onAbort = () => this.stop('cancelled');

  constructor(
    private readonly conn: DuckDBConnection,
    timeoutMs: number,
    private readonly signal?: AbortSignal,
  ) {
    this.stopped = new Promise((resolve) => (this.onStop = resolve));
    this.timer = setTimeout(() => this.stop('timeout'), timeoutMs);
    if (signal?.aborted) this.stop('cancelled');
    else signal?.addEventListener('abort', this.onAbort, { once: true });
  }

  private stop(reason: StopReason): void {
    if (this.reason) return;
    this.reason = reason;
    this.conn.interrupt();
    // DuckDB drops an interrupt that lands between two calls (it is reset when a query starts):
    // keep interrupting until the query is over.
    this.repeat = setInterval(() => this.conn.interrupt(), 50);
    this.onStop();
  }

  dispose(): void {
    clearTimeout(this.timer);
    clearInterval(this.repeat);
    this.signal?.removeEventListener('abort', this.onAbort);
  }
}

/** A sink's own failure (the client went away mid-write, ...): passed on as it is, never taken for an SQL error. */
class SinkFailure {
  constructor(readonly error: unknown) {}
}

/**
 * Sets the limits DuckDB enforces itself, before the user's statement. Both settings are global to
 * the DuckDB instance (DuckDB has no per-connection limit), and user SQL cannot SET them back.
 */
async function applyLimits(conn: DuckDBConnection, limits: SqlLimits): Promise<void> {
  await conn.run(`SET memory_limit = '${Math.floor(limits.memoryLimitBytes)}B'`);
  await conn.run(`SET max_temp_directory_size = '${Math.floor(limits.tempLimitBytes)}B'`);
}

function classify(err: unknown, dog: Watchdog, sql: string, file: string, limits: SqlLimits): unknown {
  if (err instanceof SinkFailure) return err.error;
  if (dog.reason === 'timeout') return new QueryTimeoutError(sql, file, limits.timeoutMs, err);
  if (dog.reason === 'cancelled') return new QueryCancelledError(sql, file, 'whoever asked for it went away');
  if (err instanceof QueryRejectedError) return err;
  const message = (err as Error)?.message ?? String(err);
  // DuckDB's own advice ("SET memory_limit=...") cannot be followed here: only its first line is kept.
  if (/^Out of Memory Error/i.test(message)) return new QueryMemoryError(sql, file, limits, message, err);
  return new QueryRejectedError(`SQL error: ${message}`, { file, operation: OPERATION, sql, cause: err });
}

/**
 * A streamed result that fails part-way (error(), a bad cast, memory) ends like a complete one:
 * the bindings' fetchChunk drops DuckDB's error. The failure does abort the transaction, though,
 * so a probe tells; a second, materialized run then gets DuckDB's message.
 */
async function assertStreamCompleted(conn: DuckDBConnection, sql: string, rows: number): Promise<void> {
  try {
    await conn.run('SELECT 1');
    return;
  } catch {
    // the transaction was aborted: the query failed
  }
  await conn.run('ROLLBACK');
  await conn.run('BEGIN TRANSACTION READ ONLY');
  await conn.run(sql);
  throw new Error(`the query failed after ${rows} rows without saying why (it succeeded when run again); try again`);
}

/**
 * Runs one read-only statement on `conn` (a connection of its own: see BuildDB.userSqlConnection),
 * handing rows to `sink` as they are read. Throws QueryRejectedError or a subclass
 * (QueryTimeoutError, QueryMemoryError, QueryCancelledError), also after the sink has begun.
 */
export async function streamReadOnlyQuery(
  conn: DuckDBConnection,
  sql: string,
  file: string,
  limits: SqlLimits,
  sink: SqlSink,
  signal?: AbortSignal,
): Promise<SqlSummary> {
  const dog = new Watchdog(conn, limits.timeoutMs, signal);
  const checkStopped = () => {
    if (dog.reason) throw new Error(`stopped: ${dog.reason}`);
  };
  // A sink waiting for a slow reader must not outlive the time limit either.
  const toSink = async (p: void | Promise<void>) => {
    if (p) {
      try {
        await Promise.race([p, dog.stopped]);
      } catch (err) {
        throw new SinkFailure(err);
      }
    }
    checkStopped();
  };
  let began = false;
  let inTransaction = false;
  try {
    await applyLimits(conn, limits);
    await assertReadOnlySQL(conn, sql, file);
    await conn.run('BEGIN TRANSACTION READ ONLY');
    inTransaction = true;
    checkStopped();
    const result = await conn.stream(sql);
    const columns = result.columnNames();
    const begin = async () => {
      if (began) return;
      began = true;
      await toSink(sink.begin(columns));
    };
    let rows = 0;
    let bytes = 0;
    let truncated: SqlSummary['truncated'] = null;
    for await (const chunk of result.yieldRowsJs()) {
      checkStopped();
      const out: unknown[][] = [];
      const json: string[] = [];
      for (const raw of chunk) {
        if (rows + out.length >= limits.maxRows) {
          truncated = 'rows';
          break;
        }
        const row = raw.map(jsonSafe);
        const text = JSON.stringify(row);
        const size = Buffer.byteLength(text) + 1; // + the separator
        if (bytes + size > limits.maxBytes) {
          truncated = 'bytes';
          break;
        }
        bytes += size;
        out.push(row);
        json.push(text);
      }
      rows += out.length;
      if (out.length) {
        await begin();
        await toSink(sink.rows(out, json));
      }
      if (truncated) break;
    }
    checkStopped();
    if (!truncated) await assertStreamCompleted(conn, sql, rows);
    await begin();
    return { columns, rows, bytes, truncated };
  } catch (err) {
    throw classify(err, dog, sql, file, limits);
  } finally {
    dog.dispose();
    if (inTransaction) await conn.run('ROLLBACK').catch(() => undefined);
  }
}

/** streamReadOnlyQuery on a fresh connection of `db`, closed afterwards. */
export async function streamUserSql(db: BuildDB, sql: string, limits: SqlLimits, sink: SqlSink, signal?: AbortSignal): Promise<SqlSummary> {
  const conn = await db.userSqlConnection();
  try {
    return await streamReadOnlyQuery(conn, sql, db.file, limits, sink, signal);
  } finally {
    conn.closeSync();
  }
}

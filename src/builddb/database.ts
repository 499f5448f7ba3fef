/**
 * An open build database: its DuckDB instance, the write connection (every write through it, in
 * order, the waiting ones committed together: writeQueue.ts) and the read connection (the
 * product's own reads and user queries), and the turning of what fails into typed errors.
 * Opening, locking, migrating and recovering are in open.ts; what is written and read, in
 * builds.ts, portState.ts, runs.ts and reads.ts.
 */
import type { DuckDBConnection, DuckDBInstance, DuckDBValue } from './duckdb.js';
import { classifyStorageError } from './classify.js';
import { BuildDatabaseError, DatabaseUnavailableError } from './errors.js';
import { KeyPartsCodec } from './keyParts.js';
import { PortStateCache } from './portStateCache.js';
import { preparedOnce } from './preparedOnce.js';
import type { DecodeParts } from './rows.js';
import type { KnownStateSummaryRow } from './types.js';
import { WriteQueue } from './writeQueue.js';

/** The record an operation is about, for its errors. */
export interface OpContext {
  origin?: string;
  buildId?: string;
}

/** Turns the message of a failed operation into that operation's own typed error. */
export type WrapError = (message: string, err: unknown) => BuildDatabaseError;

export async function inTransaction<T>(c: DuckDBConnection, fn: () => Promise<T>): Promise<T> {
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

export async function rowsOf(c: DuckDBConnection, sql: string, params: DuckDBValue[] = []): Promise<Record<string, unknown>[]> {
  const reader = await c.runAndReadAll(sql, params);
  return reader.getRowObjectsJS() as Record<string, unknown>[];
}

export class Database {
  /** Builds and runs found `running` at open whose process is gone, now marked interrupted. */
  recovered = { builds: 0, runs: 0 };
  readonly codec = new KeyPartsCodec();
  readonly decode: DecodeParts = (v) => this.codec.decode(v);
  /** port_state as last read for plans (the writer is the only process with the file open): writes invalidate their origins. */
  readonly portStates = new PortStateCache<KnownStateSummaryRow>();
  private readonly queue: WriteQueue;
  private readQueue: Promise<unknown> = Promise.resolve();
  private closed = false;
  /** Names of the operations that write (seen by assertWritable). */
  private readonly writeOps = new Set<string>();
  private writes = 0;

  constructor(
    readonly file: string,
    readonly readOnly: boolean,
    private readonly instance: DuckDBInstance,
    private readonly conn: DuckDBConnection,
    private readonly readConn: DuckDBConnection,
    /** Run once the connections are closed (open.ts: the lock and the owner file). */
    private readonly onClose: () => void,
  ) {
    preparedOnce(conn);
    this.queue = new WriteQueue({
      begin: () => conn.run('BEGIN TRANSACTION').then(() => undefined),
      commit: () => conn.run('COMMIT').then(() => undefined),
      rollback: () => conn.run('ROLLBACK').then(() => undefined),
      ended: (committed) => this.codec.transactionEnded(committed),
    });
  }

  /** Transactions committed by write() so far: several queued writes share one. */
  get commits(): number {
    return this.queue.commits;
  }

  /** Changes whenever a write starts or ends: what was read at one generation holds while it stays the same. */
  get generation(): number {
    return this.writes;
  }

  /**
   * Runs fn alone on the write connection after every earlier operation, turning failures into
   * typed errors: for reads, and for what manages its own transactions (migrations, recovery).
   */
  op<T>(operation: string, ctx: OpContext, fn: (c: DuckDBConnection) => Promise<T>, wrap?: WrapError): Promise<T> {
    return this.counted(
      operation,
      this.queue.alone(() => this.guarded(this.conn, operation, ctx, fn, wrap)),
    );
  }

  /**
   * Runs fn on the write connection after every earlier operation, in a transaction: all of fn's
   * writes or none, committed before this resolves. The writes queued together share the
   * transaction (one commit); fn must not begin or end one itself.
   */
  write<T>(operation: string, ctx: OpContext, fn: (c: DuckDBConnection) => Promise<T>, wrap?: WrapError): Promise<T> {
    if (this.closed) return Promise.reject(this.closedError(operation, ctx));
    return this.counted(
      operation,
      this.queue.grouped(
        () => this.guarded(this.conn, operation, ctx, fn, wrap),
        (err) => this.typedError(operation, ctx, err, wrap),
      ),
    );
  }

  /** A write counts when it starts (assertWritable) and again when it is done: a read that ran alongside it is not taken for the state after it. */
  private counted<T>(operation: string, result: Promise<T>): Promise<T> {
    if (this.writeOps.has(operation)) void result.finally(() => this.writes++).catch(() => undefined);
    return result;
  }

  /**
   * A read of the product's own (bound parameters) on the read connection, beside the user
   * queries: it never waits behind the writes of a running pass (the daemon's status).
   */
  readOp<T>(operation: string, ctx: OpContext, fn: (c: DuckDBConnection) => Promise<T>): Promise<T> {
    const run = () => this.guarded(this.readConn, operation, ctx, fn);
    const result = this.readQueue.then(run, run);
    this.readQueue = result.catch(() => undefined);
    return result;
  }

  /** Rows of a read that carries key parts (column key_parts), on the write connection: the file sets they name are read too. */
  partsRows(operation: string, ctx: OpContext, sql: string, params: DuckDBValue[] = []): Promise<Record<string, unknown>[]> {
    return this.op(operation, ctx, async (c) => {
      const rows = await rowsOf(c, sql, params);
      await this.codec.loadSetsFor(
        c,
        rows.map((r) => r.key_parts),
      );
      return rows;
    });
  }

  /** Runs `fn` on `conn`, turning what fails into the typed errors (closed, storage, or `wrap`'s). */
  private async guarded<T>(
    conn: DuckDBConnection,
    operation: string,
    ctx: OpContext,
    fn: (c: DuckDBConnection) => Promise<T>,
    wrap?: WrapError,
  ): Promise<T> {
    if (this.closed) throw this.closedError(operation, ctx);
    try {
      return await fn(conn);
    } catch (err) {
      throw this.typedError(operation, ctx, err, wrap);
    }
  }

  /** What failed, as a typed error: itself when it is one, else a storage error, else `wrap`'s. */
  private typedError(operation: string, ctx: OpContext, err: unknown, wrap?: WrapError): BuildDatabaseError {
    if (err instanceof BuildDatabaseError) return err;
    const full = { file: this.file, operation, ...ctx };
    const storage = classifyStorageError(err, full);
    if (storage) return storage;
    const msg = `${operation}${ctx.origin ? ` of ${ctx.origin}` : ''}${ctx.buildId ? ` (build ${ctx.buildId})` : ''} failed in ${this.file}: ${(err as Error).message}`;
    return wrap ? wrap(msg, err) : new DatabaseUnavailableError(msg, { ...full, reason: 'io', cause: err });
  }

  private closedError(operation: string, ctx: OpContext = {}): DatabaseUnavailableError {
    return new DatabaseUnavailableError(`build database ${this.file} is closed`, { file: this.file, operation, ...ctx, reason: 'closed' });
  }

  /** Counts a write (the generation) and refuses it on a read-only handle. */
  assertWritable(operation: string, ctx: OpContext = {}): void {
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

  /**
   * A new connection for one user SQL statement (sqlStream.ts), closed by the caller: a long
   * query then holds up neither the writes nor the product's own reads.
   */
  async userSqlConnection(): Promise<DuckDBConnection> {
    if (this.closed) throw this.closedError('query');
    const c = await this.instance.connect();
    await c.run(`SET TimeZone = 'UTC'`).catch((err: unknown) => {
      c.closeSync();
      throw err;
    });
    return c;
  }

  async close(): Promise<void> {
    if (this.closed) return;
    await this.queue.idle();
    await this.readQueue;
    this.closed = true;
    try {
      this.readConn.closeSync();
      this.conn.closeSync();
      this.instance.closeSync();
    } finally {
      this.onClose();
    }
  }
}

import { type DuckDBConnection, StatementType } from './duckdb.js';
import { QueryRejectedError } from './errors.js';
import type { QueryOptions, QueryResult } from './types.js';

const OPERATION = 'query';

/** DuckDB's own statement type decides; only SELECT (which covers WITH, SHOW, DESCRIBE, SUMMARIZE, FROM-first) and EXPLAIN of one pass. */
async function statementTypeOf(conn: DuckDBConnection, sql: string, file: string): Promise<StatementType> {
  let extracted;
  try {
    extracted = await conn.extractStatements(sql);
  } catch (err) {
    throw new QueryRejectedError(`SQL error: ${(err as Error).message}`, { file, operation: OPERATION, sql, cause: err });
  }
  if (extracted.count !== 1) {
    throw new QueryRejectedError(`expected exactly one SQL statement, got ${extracted.count}`, { file, operation: OPERATION, sql });
  }
  try {
    const prepared = await extracted.prepare(0);
    const type = prepared.statementType;
    prepared.destroySync();
    return type;
  } catch (err) {
    throw new QueryRejectedError(`SQL error: ${(err as Error).message}`, { file, operation: OPERATION, sql, cause: err });
  }
}

export async function assertReadOnlySQL(conn: DuckDBConnection, sql: string, file: string): Promise<void> {
  const type = await statementTypeOf(conn, sql, file);
  if (type === StatementType.SELECT) return;
  if (type === StatementType.EXPLAIN) {
    // EXPLAIN ANALYZE runs its statement, so what is explained must itself be read-only.
    const inner = /^\s*EXPLAIN\s+(?:ANALYZE\s+)?/i.exec(sql);
    if (inner && (await statementTypeOf(conn, sql.slice(inner[0].length), file)) === StatementType.SELECT) return;
    throw new QueryRejectedError('only EXPLAIN [ANALYZE] of a SELECT is allowed', { file, operation: OPERATION, sql });
  }
  throw new QueryRejectedError(
    `only read-only statements (SELECT, WITH, SHOW, DESCRIBE, SUMMARIZE, EXPLAIN) are allowed; this is a ${StatementType[type] ?? type} statement`,
    { file, operation: OPERATION, sql },
  );
}

/** Converts DuckDB's JS values into JSON-safe ones. */
export function jsonSafe(v: unknown): unknown {
  if (typeof v === 'bigint') return v >= BigInt(Number.MIN_SAFE_INTEGER) && v <= BigInt(Number.MAX_SAFE_INTEGER) ? Number(v) : v.toString();
  if (v instanceof Date) return Number.isNaN(v.getTime()) ? null : v.toISOString();
  if (v instanceof Uint8Array) return Buffer.from(v).toString('hex');
  if (Array.isArray(v)) return v.map(jsonSafe);
  if (v && typeof v === 'object') return Object.fromEntries(Object.entries(v).map(([k, x]) => [k, jsonSafe(x)]));
  return v;
}

/**
 * Runs one read-only statement inside a READ ONLY transaction (so even a SELECT cannot write),
 * reading at most maxRows rows.
 */
export async function runReadOnlyQuery(conn: DuckDBConnection, sql: string, file: string, opts: QueryOptions = {}): Promise<QueryResult> {
  const maxRows = opts.maxRows ?? 10_000;
  await assertReadOnlySQL(conn, sql, file);
  let timer: NodeJS.Timeout | undefined;
  let timedOut = false;
  await conn.run('BEGIN TRANSACTION READ ONLY');
  try {
    if (opts.timeoutMs !== undefined) {
      timer = setTimeout(() => {
        timedOut = true;
        conn.interrupt();
      }, opts.timeoutMs);
    }
    const reader = await conn.streamAndReadUntil(sql, maxRows + 1);
    const columns = reader.columnNames();
    const all = reader.getRowsJS();
    const truncated = all.length > maxRows || !reader.done;
    const rows = all.slice(0, maxRows).map((r) => r.map(jsonSafe));
    return { columns, rows, truncated };
  } catch (err) {
    const msg = timedOut ? `query interrupted after ${opts.timeoutMs} ms` : `SQL error: ${(err as Error).message}`;
    throw new QueryRejectedError(msg, { file, operation: OPERATION, sql, cause: err });
  } finally {
    clearTimeout(timer);
    await conn.run('ROLLBACK').catch(() => undefined);
  }
}

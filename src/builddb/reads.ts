/**
 * What the product reads back: builds, phases, port states (cached, see PortStateCache), runs,
 * the status and last-good rows of the daemon and `why`, and read-only user queries. Reads that
 * carry key parts go through the write connection (the file sets it wrote); the status reads and
 * user queries use the read connection, so they never wait behind a pass's writes.
 */
import { listValue, type DuckDBValue } from './duckdb.js';
import type { Database } from './database.js';
import { rowsOf } from './database.js';
import { runReadOnlyQuery } from './readOnlyQuery.js';
import {
  BUILD_COLUMNS,
  KNOWN_STATE_COLUMNS,
  KNOWN_SUMMARY_COLUMNS,
  LAST_GOOD_SQL,
  PORT_STATE_COLUMNS,
  portStatusSql,
  RUN_COLUMNS,
  toBuildRow,
  toKnownStateSummaryRow,
  toLastGoodRow,
  toPortStateRow,
  toPortStatusRow,
  toRunRow,
} from './rows.js';
import type {
  BuildRow,
  KnownStateRow,
  KnownStateSummaryRow,
  LastGoodRow,
  PhaseRow,
  PortStateRow,
  PortStatusRow,
  QueryOptions,
  QueryResult,
  RunRow,
} from './types.js';

export async function latestSuccess(db: Database, origin: string): Promise<BuildRow | undefined> {
  const rows = await db.partsRows(
    'latestSuccess',
    { origin },
    `SELECT ${BUILD_COLUMNS} FROM builds WHERE origin = $1 AND status = 'success' ORDER BY finished_at DESC LIMIT 1`,
    [origin],
  );
  return rows[0] ? toBuildRow(rows[0], db.decode) : undefined;
}

export async function build(db: Database, buildId: string): Promise<BuildRow | undefined> {
  const rows = await db.partsRows('build', { buildId }, `SELECT ${BUILD_COLUMNS} FROM builds WHERE build_id = $1`, [buildId]);
  return rows[0] ? toBuildRow(rows[0], db.decode) : undefined;
}

export async function portState(db: Database, origin: string): Promise<PortStateRow | undefined> {
  const rows = await db.partsRows('portState', { origin }, `SELECT ${PORT_STATE_COLUMNS} FROM port_state WHERE origin = $1`, [origin]);
  return rows[0] ? toPortStateRow(rows[0], db.decode) : undefined;
}

/** Every port's state, by origin. */
export async function allPortState(db: Database): Promise<PortStateRow[]> {
  return (await db.partsRows('allPortState', {}, `SELECT ${PORT_STATE_COLUMNS} FROM port_state ORDER BY origin`)).map((r) =>
    toPortStateRow(r, db.decode),
  );
}

/** A WHERE clause and its parameters for these origins' rows of port_state (all rows without origins). */
function whereOrigins(origins?: readonly string[]): [string, DuckDBValue[]] {
  return origins ? ['WHERE origin IN (SELECT unnest($1::VARCHAR[]))', [listValue([...origins])]] : ['', []];
}

/**
 * Every port's state as a plan reads it, by origin (or only `origins`'); the key parts decoded when
 * first read. About 0.6 s for a 10,000-port tree instead of about 1 s for the whole rows.
 */
export async function knownStates(db: Database, origins?: readonly string[]): Promise<KnownStateRow[]> {
  const [where, params] = whereOrigins(origins);
  const rows = await db.partsRows('knownStates', {}, `SELECT ${KNOWN_STATE_COLUMNS} FROM port_state ${where} ORDER BY origin`, params);
  // (The row's other columns are not read: only KnownStateRow's fields are handed out.)
  return rows.map((r) => toPortStateRow(r, db.decode));
}

/**
 * knownStates without the key parts: about 0.15 s for a 10,000-port tree, and ~70 MB less of the
 * process's memory than with them (their JSON, converted). A plan compares the recorded parts only
 * of ports whose own inputs changed (makePlanReadingParts reads those). The writer keeps the rows
 * (PortStateCache): a read re-reads only those written since, and unchanged rows are the same
 * objects as last time (the planner's memo relies on it).
 */
export async function knownStatesWithoutParts(db: Database): Promise<KnownStateSummaryRow[]> {
  const read = (origins?: readonly string[]) => {
    const [where, params] = whereOrigins(origins);
    // (On the write connection, behind the writes queued before it: a row a queued write invalidated is read as written.)
    return db.op('knownStatesWithoutParts', {}, async (c) =>
      (await rowsOf(c, `SELECT ${KNOWN_SUMMARY_COLUMNS} FROM port_state ${where} ORDER BY origin`, params)).map(toKnownStateSummaryRow),
    );
  };
  // Only the writer caches: another process may write a file opened read-only.
  if (db.readOnly) return read();
  return db.portStates.read(() => read(), read);
}

/** A port's builds, newest first. */
export async function history(db: Database, origin: string, limit = 50): Promise<BuildRow[]> {
  const rows = await db.partsRows(
    'history',
    { origin },
    `SELECT ${BUILD_COLUMNS} FROM builds WHERE origin = $1 ORDER BY started_at DESC LIMIT $2`,
    [origin, limit],
  );
  return rows.map((r) => toBuildRow(r, db.decode));
}

/** A build's phases in the order they ran. */
export async function phases(db: Database, buildId: string): Promise<PhaseRow[]> {
  const rows = await db.op('phases', { buildId }, (c) =>
    rowsOf(
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
export async function runs(db: Database, limit = 20): Promise<RunRow[]> {
  const rows = await db.op('runs', {}, (c) => rowsOf(c, `SELECT ${RUN_COLUMNS} FROM runs ORDER BY started_at DESC LIMIT $1`, [limit]));
  return rows.map(toRunRow);
}

/** port_state joined with each port's latest build (ports that only ever failed too); `origins` narrows it. */
export async function portStatuses(db: Database, origins: readonly string[] = []): Promise<PortStatusRow[]> {
  const rows = await db.readOp('portStatuses', {}, (c) => rowsOf(c, portStatusSql(origins.length), [...origins]));
  return rows.map(toPortStatusRow);
}

/** A port's last successful build, and the git commit of the run that built it. */
export async function lastGood(db: Database, origin: string): Promise<LastGoodRow | null> {
  const rows = await db.readOp('lastGood', { origin }, (c) => rowsOf(c, LAST_GOOD_SQL, [origin]));
  return rows[0] ? toLastGoodRow(rows[0]) : null;
}

/** One read-only SQL statement (SELECT, WITH, SHOW, DESCRIBE, EXPLAIN); anything else is QueryRejectedError. */
export function query(db: Database, sql: string, opts: QueryOptions = {}): Promise<QueryResult> {
  // Queries use the read connection so that they never run inside a write transaction.
  return db.readOp('query', {}, (c) => runReadOnlyQuery(c, sql, db.file, opts));
}

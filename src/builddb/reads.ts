/**
 * What the product reads back: builds, phases, port states (cached, see PortStateCache), runs,
 * the status and last-good rows of the daemon and `why`, and read-only user queries. Reads that
 * carry key parts go through the write connection (the file sets it wrote); the status reads and
 * user queries use the read connection, so they never wait behind a pass's writes.
 */
import { listValue } from '@duckdb/node-api';
import type { Database } from './database.js';
import { rowsOf } from './database.js';
import { runReadOnlyQuery } from './readOnlyQuery.js';
import {
  BUILD_COLUMNS,
  KNOWN_STATE_COLUMNS,
  LAST_GOOD_SQL,
  PORT_STATE_COLUMNS,
  portStatusSql,
  RUN_COLUMNS,
  toBuildRow,
  toLastGoodRow,
  toPortStateRow,
  toPortStatusRow,
  toRunRow,
} from './rows.js';
import type {
  BuildRow,
  KnownStateRow,
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

/** Every port's state, by origin. Unchanged rows are the same objects as last time (callers may memoize on them). */
export async function allPortState(db: Database): Promise<PortStateRow[]> {
  const readAll = async () =>
    (await db.partsRows('allPortState', {}, `SELECT ${PORT_STATE_COLUMNS} FROM port_state ORDER BY origin`)).map((r) =>
      toPortStateRow(r, db.decode),
    );
  // Only the writer caches: another process may write a file opened read-only.
  if (db.readOnly) return readAll();
  return db.portStates.read(readAll, async (origins) =>
    (
      await db.partsRows(
        'allPortState',
        {},
        `SELECT ${PORT_STATE_COLUMNS} FROM port_state WHERE origin IN (SELECT unnest($1::VARCHAR[]))`,
        [listValue([...origins])],
      )
    ).map((r) => toPortStateRow(r, db.decode)),
  );
}

/**
 * Every port's state as a plan reads it, by origin: a fresh process's plan (about 0.3 s for a
 * 10,000-port tree instead of about 1 s for the whole rows); the key parts decoded when read.
 */
export async function knownStates(db: Database): Promise<KnownStateRow[]> {
  const rows = await db.partsRows('knownStates', {}, `SELECT ${KNOWN_STATE_COLUMNS} FROM port_state ORDER BY origin`);
  // (The row's other columns are not read: only KnownStateRow's fields are handed out.)
  return rows.map((r) => toPortStateRow(r, db.decode));
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

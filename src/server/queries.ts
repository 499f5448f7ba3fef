/**
 * The read-side questions the daemon and the CLI both answer (per-port state, runs, history,
 * SQL), over an open BuildDB — the daemon's read-write one or the CLI's read-only one.
 */
import type { BuildDB } from '../builddb/db.js';
import { streamUserSql, type SqlLimits } from '../builddb/sqlStream.js';
import type { LastGoodBuild } from '../reconcile/explain.js';
import type { BuildRow, QueryResult, RunRow } from '../builddb/types.js';

/** Limits for SQL from users (POST /sql, `portsync sql`); see SqlLimits. */
export const SQL_LIMITS: Readonly<SqlLimits> = Object.freeze({
  maxRows: 10_000,
  maxBytes: 64 * 1024 * 1024,
  timeoutMs: 10_000,
  memoryLimitBytes: 512 * 1024 * 1024,
  tempLimitBytes: 1024 * 1024 * 1024,
});

/**
 * User queries the daemon runs at once; more are refused (503). Each holds a libuv thread while
 * DuckDB works, and the daemon's own file and database work needs the others (4 by default).
 */
export const SQL_MAX_CONCURRENT = 2;

export interface PortStatus {
  origin: string;
  version: string | null;
  pkgname: string | null;
  /** success, failed, interrupted or running: the last build's status; never-built ports are not listed. */
  lastStatus: string | null;
  lastBuildId: string | null;
  lastStarted: string | null;
  lastFinished: string | null;
  lastDurationMs: number | null;
  lastPhase: string | null;
  lastError: string | null;
  log: string | null;
  /** The last successful build (port_state.build_id). */
  goodBuildId: string | null;
  crc: string | null;
  buildKey: string | null;
  /** Set when the port failed at its current key and is blocked until its inputs change. */
  failedKey: string | null;
  updatedAt: string | null;
}

function sqlList(values: readonly string[]): string {
  return values.map((v) => `'${v.replaceAll("'", "''")}'`).join(', ');
}

/** port_state joined with each port's latest build (ports that only ever failed are included). */
export async function portStatuses(db: BuildDB, origins: readonly string[] = []): Promise<PortStatus[]> {
  const where = origins.length ? `WHERE o.origin IN (${sqlList(origins)})` : '';
  const r = await db.query(
    `WITH last AS (
       SELECT * FROM builds QUALIFY row_number() OVER (PARTITION BY origin ORDER BY started_at DESC) = 1
     ), o AS (SELECT origin FROM port_state UNION SELECT origin FROM builds)
     SELECT o.origin, coalesce(ps.version, last.version) AS version, coalesce(ps.pkgname, last.pkgname) AS pkgname,
       last.status AS last_status, last.build_id::VARCHAR AS last_build_id, last.started_at AS last_started,
       last.finished_at AS last_finished, last.duration_ms AS last_duration_ms, last.last_phase, last.error AS last_error,
       last.log_path, ps.build_id::VARCHAR AS good_build_id, ps.crc, ps.build_key, ps.failed_key, ps.updated_at
     FROM o LEFT JOIN port_state ps USING (origin) LEFT JOIN last USING (origin)
     ${where}
     ORDER BY o.origin`,
    { maxRows: 1_000_000 },
  );
  return r.rows.map((row) => {
    const v = Object.fromEntries(r.columns.map((c, i) => [c, row[i]])) as Record<string, string | number | null>;
    return {
      origin: String(v.origin),
      version: v.version as string | null,
      pkgname: v.pkgname as string | null,
      lastStatus: v.last_status as string | null,
      lastBuildId: v.last_build_id as string | null,
      lastStarted: v.last_started as string | null,
      lastFinished: v.last_finished as string | null,
      lastDurationMs: v.last_duration_ms as number | null,
      lastPhase: v.last_phase as string | null,
      lastError: v.last_error as string | null,
      log: v.log_path as string | null,
      goodBuildId: v.good_build_id as string | null,
      crc: v.crc as string | null,
      buildKey: v.build_key as string | null,
      failedKey: v.failed_key as string | null,
      updatedAt: v.updated_at as string | null,
    };
  });
}

export type RunJson = Omit<RunRow, 'startedAt' | 'finishedAt'> & { startedAt: string; finishedAt: string | null };
export type BuildJson = Omit<BuildRow, 'startedAt' | 'finishedAt' | 'keyParts'> & { startedAt: string; finishedAt: string | null };

export function runJson(r: RunRow): RunJson {
  return { ...r, startedAt: r.startedAt.toISOString(), finishedAt: r.finishedAt?.toISOString() ?? null };
}

export function buildJson(b: BuildRow): BuildJson {
  const { keyParts: _k, ...rest } = b;
  return { ...rest, startedAt: b.startedAt.toISOString(), finishedAt: b.finishedAt?.toISOString() ?? null };
}

export async function recentRuns(db: BuildDB, limit = 20): Promise<RunJson[]> {
  return (await db.runs(limit)).map(runJson);
}

export async function portHistory(db: BuildDB, origin: string, limit = 50): Promise<BuildJson[]> {
  return (await db.history(origin, limit)).map(buildJson);
}

/** A user query's whole result (within SQL_LIMITS), for callers that need it at once (`report`). */
export async function userQuery(db: BuildDB, sql: string, limits: SqlLimits = SQL_LIMITS): Promise<QueryResult> {
  const rows: unknown[][] = [];
  const r = await streamUserSql(db, sql, limits, { begin: () => undefined, rows: (chunk) => void rows.push(...chunk) });
  return { columns: r.columns, rows, truncated: r.truncated !== null };
}

/** A port's last successful build, and the git commit of the run that built it. */
export async function lastGood(db: BuildDB, origin: string): Promise<LastGoodBuild | null> {
  const r = await db.query(
    `SELECT ps.build_id::VARCHAR AS build_id, b.finished_at, ps.version, r.git_commit
     FROM port_state ps LEFT JOIN builds b ON b.build_id = ps.build_id LEFT JOIN runs r ON r.run_id = b.run_id
     WHERE ps.origin = ${sqlList([origin])} AND ps.build_id IS NOT NULL`,
  );
  const row = r.rows[0];
  if (!row) return null;
  const [buildId, finishedAt, version, gitCommit] = row as [string, string | null, string | null, string | null];
  return { buildId, finishedAt, version, gitCommit };
}

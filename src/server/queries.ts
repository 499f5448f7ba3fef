/**
 * The read-side questions the daemon and the CLI both answer (per-port state, runs, history,
 * SQL), over an open BuildDB — the daemon's read-write one or the CLI's read-only one.
 */
import type { BuildDB } from '../builddb/db.js';
import { streamUserSql, type SqlLimits } from '../builddb/sqlStream.js';
import type { LastGoodBuild } from '../reconcile/explain.js';
import type { BuildRow, PortStatusRow, QueryResult, RunRow } from '../builddb/types.js';

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

export type { PortStatusRow as PortStatus } from '../builddb/types.js';

/** port_state joined with each port's latest build (ports that only ever failed are included). */
export function portStatuses(db: BuildDB, origins: readonly string[] = []): Promise<PortStatusRow[]> {
  return db.portStatuses(origins);
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
export function lastGood(db: BuildDB, origin: string): Promise<LastGoodBuild | null> {
  return db.lastGood(origin);
}

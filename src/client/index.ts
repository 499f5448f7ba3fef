/**
 * One client for every command that reads the build history: through the daemon's socket when a
 * daemon answers (it holds the database's write lock), otherwise on the database file opened
 * read-only, or — never reconciled — on nothing (empty answers; `sql` says there is no database).
 * The commands say what they want; this module alone knows where it comes from.
 */
import { existsSync } from 'node:fs';
import { BuildDB } from '../builddb/db.js';
import { streamUserSql, type SqlSink, type SqlSummary } from '../builddb/sqlStream.js';
import type { KnownStateRow, QueryResult } from '../builddb/types.js';
import type { LastGoodBuild } from '../reconcile/explain.js';
import { knownFromRows } from '../reconcile/known.js';
import type { KnownPortState } from '../reconcile/plan.js';
import { lastGood, portHistory, recentRuns, SQL_LIMITS, userQuery, type BuildJson, type RunJson } from '../server/queries.js';
import { offlineStatus, type StatusJson } from '../server/status.js';
import { DaemonRequestError, NoDatabaseError } from './errors.js';
import type { Located } from './locate.js';
import { daemonRequest, type DaemonResponse } from './request.js';
import { streamSqlFromDaemon } from './sql.js';

export { locate, locatedOf, type Located } from './locate.js';

export interface Client {
  via: 'daemon' | 'database' | 'none';
  status(origins: readonly string[]): Promise<StatusJson>;
  runs(limit?: number): Promise<RunJson[]>;
  history(origin: string): Promise<BuildJson[]>;
  /** A read-only query, whole (within SQL_LIMITS). */
  sql(query: string): Promise<QueryResult>;
  /** A read-only query, streamed into `sink` as rows arrive. */
  streamSql(query: string, sink: SqlSink): Promise<SqlSummary & { notice?: string | null }>;
  /** Every port's recorded state as the planner takes it, without the key parts (makePlanReadingParts reads those it needs with knownOf). */
  knownWithoutParts(): Promise<Map<string, KnownPortState>>;
  /** These ports' recorded states, key parts included. */
  knownOf(origins: readonly string[]): Promise<Map<string, KnownPortState>>;
  lastGood(origin: string): Promise<LastGoodBuild | null>;
  close(): Promise<void>;
}

function answer(socket: string, path: string, r: DaemonResponse | undefined): unknown {
  if (!r) throw new DaemonRequestError(socket, path, 0, 'the daemon stopped answering');
  if (r.status >= 300) {
    const detail = (r.body as { error?: string } | null)?.error ?? JSON.stringify(r.body);
    throw new DaemonRequestError(socket, path, r.status, detail);
  }
  return r.body;
}

const originQuery = (origins: readonly string[]) => origins.map((o) => `origin=${encodeURIComponent(o)}`).join('&');

function daemonClient(loc: Located): Client {
  const q = (method: 'GET' | 'POST', path: string, body?: unknown) =>
    daemonRequest(loc.socket, method, path, body).then((r) => answer(loc.socket, path, r));
  const portState = async (query: string) => knownFromRows(((await q('GET', `/port-state${query}`)) as { ports: KnownStateRow[] }).ports);
  return {
    via: 'daemon',
    status: async (origins) => (await q('GET', `/status${origins.length ? `?${originQuery(origins)}` : ''}`)) as StatusJson,
    runs: async (limit = 20) => ((await q('GET', `/runs?limit=${limit}`)) as { runs: RunJson[] }).runs,
    history: async (origin) => ((await q('GET', `/history?origin=${encodeURIComponent(origin)}`)) as { builds: BuildJson[] }).builds,
    sql: async (query) => (await q('POST', '/sql', { sql: query })) as QueryResult,
    streamSql: (query, sink) => streamSqlFromDaemon(loc.socket, query, sink),
    knownWithoutParts: () => portState(''),
    knownOf: (origins) => portState(`?${originQuery(origins)}`),
    lastGood: async (origin) =>
      ((await q('GET', `/last-good?origin=${encodeURIComponent(origin)}`)) as { lastGood: LastGoodBuild | null }).lastGood,
    close: async () => undefined,
  };
}

function localClient(loc: Located, db: BuildDB | null): Client {
  const needDb = (): BuildDB => {
    if (!db) throw new NoDatabaseError(loc.database);
    return db;
  };
  return {
    via: db ? 'database' : 'none',
    status: (origins) => offlineStatus(db, loc.configFile, loc.configIssues, origins),
    runs: async (limit = 20) => (db ? recentRuns(db, limit) : []),
    history: async (origin) => (db ? portHistory(db, origin) : []),
    sql: async (query) => userQuery(needDb(), query),
    streamSql: (query, sink) => streamUserSql(needDb(), query, SQL_LIMITS, sink),
    knownWithoutParts: async () => (db ? knownFromRows(await db.knownStatesWithoutParts()) : new Map()),
    knownOf: async (origins) => (db ? knownFromRows(await db.knownStates(origins)) : new Map()),
    lastGood: async (origin) => (db ? lastGood(db, origin) : null),
    close: async () => db?.close(),
  };
}

/** The daemon when one answers on the socket, else the database opened read-only (or nothing yet). */
export async function openClient(loc: Located): Promise<Client> {
  const probe = await daemonRequest(loc.socket, 'GET', '/runs?limit=1');
  if (probe && probe.status === 200) return daemonClient(loc);
  const db = existsSync(loc.database) ? await BuildDB.open(loc.database, { readOnly: true }) : null;
  return localClient(loc, db);
}

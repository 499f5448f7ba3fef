/**
 * How the read-only commands (status, sql, history, report) reach the build history: through the
 * daemon's socket when a daemon answers (it holds the database's write lock), otherwise by
 * opening the database read-only. A database that does not exist yet reads as empty.
 */
import { existsSync, readFileSync } from 'node:fs';
import { dirname, resolve } from 'node:path';
import { parse } from 'yaml';
import { BuildDB } from '../builddb/db.js';
import type { QueryResult } from '../builddb/types.js';
import { loadDesiredState } from '../config/load.js';
import { ConfigError, type ConfigIssue } from '../config/errors.js';
import type { DesiredState } from '../config/types.js';
import { daemonRequest, type DaemonResponse } from './client.js';
import { DaemonRequestError, NoDatabaseError } from './errors.js';
import { portHistory, recentRuns, userQuery, type BuildJson, type RunJson } from './queries.js';
import { offlineStatus, type StatusJson } from './status.js';

export interface Located {
  configFile: string;
  socket: string;
  database: string;
  state?: DesiredState;
  /** builds.yaml is invalid: socket and database were read leniently (or defaulted). */
  configIssues: ConfigIssue[];
}

const DEFAULT_SOCKET = '.portsync/portsync.sock';
const DEFAULT_DATABASE = '.portsync/builddb.duckdb';

/**
 * Where the daemon's socket and the database are. An invalid builds.yaml must not hide a running
 * daemon (which keeps its last good state), so the two paths are then read from the raw YAML.
 */
export async function locate(configFile: string): Promise<Located> {
  try {
    const state = await loadDesiredState(configFile);
    return { configFile, socket: state.server.socket, database: state.paths.database, state, configIssues: [] };
  } catch (err) {
    if (!(err instanceof ConfigError) || !existsSync(configFile)) throw err;
    const raw = lenientYaml(configFile);
    const dir = dirname(configFile);
    const socket = typeof raw?.server?.socket === 'string' ? raw.server.socket : DEFAULT_SOCKET;
    const database = typeof raw?.paths?.database === 'string' ? raw.paths.database : DEFAULT_DATABASE;
    return { configFile, socket: resolve(dir, socket), database: resolve(dir, database), configIssues: err.issues };
  }
}

function lenientYaml(file: string): { server?: { socket?: unknown }; paths?: { database?: unknown } } | null {
  try {
    return parse(readFileSync(file, 'utf8')) as { server?: { socket?: unknown }; paths?: { database?: unknown } } | null;
  } catch {
    return null; // unparsable YAML: defaults
  }
}

export interface ReadApi {
  via: 'daemon' | 'database';
  status(origins: readonly string[]): Promise<StatusJson>;
  runs(limit?: number): Promise<RunJson[]>;
  history(origin: string): Promise<BuildJson[]>;
  sql(query: string): Promise<QueryResult>;
  close(): Promise<void>;
}

function answer(loc: Located, path: string, r: DaemonResponse | undefined): unknown {
  if (!r) throw new DaemonRequestError(loc.socket, path, 0, 'the daemon stopped answering');
  if (r.status >= 300) {
    const detail = (r.body as { error?: string } | null)?.error ?? JSON.stringify(r.body);
    throw new DaemonRequestError(loc.socket, path, r.status, detail);
  }
  return r.body;
}

function daemonApi(loc: Located): ReadApi {
  const q = (method: 'GET' | 'POST', path: string, body?: unknown) =>
    daemonRequest(loc.socket, method, path, body).then((r) => answer(loc, path, r));
  return {
    via: 'daemon',
    status: async (origins) => (await q('GET', `/status${origins.length ? `?${origins.map((o) => `origin=${encodeURIComponent(o)}`).join('&')}` : ''}`)) as StatusJson,
    runs: async (limit = 20) => ((await q('GET', `/runs?limit=${limit}`)) as { runs: RunJson[] }).runs,
    history: async (origin) => ((await q('GET', `/history?origin=${encodeURIComponent(origin)}`)) as { builds: BuildJson[] }).builds,
    sql: async (query) => (await q('POST', '/sql', { sql: query })) as QueryResult,
    close: async () => undefined,
  };
}

function databaseApi(loc: Located, db: BuildDB | null): ReadApi {
  return {
    via: 'database',
    status: (origins) => offlineStatus(db, loc.configFile, loc.configIssues, origins),
    runs: async (limit = 20) => (db ? recentRuns(db, limit) : []),
    history: async (origin) => (db ? portHistory(db, origin) : []),
    sql: async (query) => {
      if (!db) throw new NoDatabaseError(loc.database);
      return userQuery(db, query);
    },
    close: async () => db?.close(),
  };
}

/** The daemon when one answers on the socket, else the database opened read-only (or nothing yet). */
export async function openReadApi(loc: Located): Promise<ReadApi> {
  const probe = await daemonRequest(loc.socket, 'GET', '/runs?limit=1');
  if (probe && probe.status === 200) return daemonApi(loc);
  const db = existsSync(loc.database) ? await BuildDB.open(loc.database, { readOnly: true }) : null;
  return databaseApi(loc, db);
}

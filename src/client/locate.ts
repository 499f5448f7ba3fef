/**
 * Where a project's daemon socket and build database are. An invalid builds.yaml must not hide a
 * running daemon (which keeps its last good state), so the two paths are then read leniently.
 */
import { existsSync, readFileSync } from 'node:fs';
import { dirname, resolve } from 'node:path';
import { parse } from 'yaml';
import { loadDesiredState } from '../config/load.js';
import { ConfigError, type ConfigIssue } from '../config/errors.js';
import type { DesiredState } from '../config/types.js';

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

/** Where the daemon's socket and the database are, from builds.yaml (leniently when it is invalid). */
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

/** The same for a desired state already loaded. */
export function locatedOf(state: DesiredState): Located {
  return { configFile: state.file, socket: state.server.socket, database: state.paths.database, state, configIssues: [] };
}

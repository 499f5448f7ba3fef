/**
 * What `plan`, `why` and `reconcile --dry-run` need from the build history, from wherever it
 * is: the running daemon (which holds the database's write lock), or the database file opened
 * read-only, or nothing yet (never reconciled).
 */
import { existsSync } from 'node:fs';
import { BuildDB } from '../builddb/db.js';
import type { PortStateRow } from '../builddb/types.js';
import type { DesiredState } from '../config/types.js';
import { knownFromRows } from '../reconcile/known.js';
import type { KnownPortState } from '../reconcile/plan.js';
import { daemonRequest } from './client.js';
import { DaemonRequestError } from './errors.js';
import type { LastGoodBuild } from '../reconcile/explain.js';
import { lastGood } from './queries.js';

export interface HistorySource {
  via: 'daemon' | 'database' | 'none';
  known(): Promise<Map<string, KnownPortState>>;
  lastGood(origin: string): Promise<LastGoodBuild | null>;
  close(): Promise<void>;
}

async function fromDaemon(socket: string, path: string): Promise<unknown> {
  const r = await daemonRequest(socket, 'GET', path);
  if (!r) throw new DaemonRequestError(socket, path, 0, 'the daemon stopped answering');
  if (r.status >= 300) throw new DaemonRequestError(socket, path, r.status, JSON.stringify(r.body));
  return r.body;
}

export async function openHistorySource(state: DesiredState): Promise<HistorySource> {
  const socket = state.server.socket;
  const probe = await daemonRequest(socket, 'GET', '/port-state');
  if (probe && probe.status < 300) {
    const rows = (probe.body as { ports: PortStateRow[] }).ports;
    return {
      via: 'daemon',
      known: async () => knownFromRows(rows),
      lastGood: async (origin) => ((await fromDaemon(socket, `/last-good?origin=${encodeURIComponent(origin)}`)) as { lastGood: LastGoodBuild | null }).lastGood,
      close: async () => {},
    };
  }
  if (!existsSync(state.paths.database)) {
    return { via: 'none', known: async () => new Map(), lastGood: async () => null, close: async () => {} };
  }
  const db = await BuildDB.open(state.paths.database, { readOnly: true });
  return {
    via: 'database',
    known: async () => knownFromRows(await db.allPortState()),
    lastGood: (origin) => lastGood(db, origin),
    close: () => db.close(),
  };
}
